# Frames built by scapy for test/judges.test.ts; prints {name: hex}. Run with the system python3 (Debian python3-scapy).
import json, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import *
from scapy.layers.dhcp6 import *

G = '52:54:00:12:34:56'
H = '52:55:0a:00:02:02'
out = {}
def put(name, p):
    b = bytes(p)
    if len(b) < 60 and Ether in p:
        b += b'\0' * (60 - len(b))
    out[name] = b.hex()

put('udp4', Ether(src=G, dst=H)/IP(src='10.0.2.15', dst='10.0.2.3', id=99, ttl=17, tos=0xb8)/UDP(sport=5353, dport=40001)/b'hi')
put('udp4opts', Ether(src=G, dst=H)/IP(src='10.0.2.15', dst='10.0.2.3', options=[IPOption_RR(routers=['1.2.3.4'])])/UDP(sport=1, dport=2)/b'opt')
put('frag4', Ether(src=G, dst=H)/IP(src='10.0.2.15', dst='10.0.2.3', flags='MF', frag=185, id=7, proto=17)/(b'x' * 24))
put('udp6', Ether(src=G, dst=H)/IPv6(src='2001:db8::15', dst='2001:db8::3', hlim=9, tc=0x2e, fl=0xabcde)/UDP(sport=5353, dport=40001)/b'six')
put('udp6ext', Ether(src=G, dst=H)/IPv6(src='fe80::1', dst='fe80::2')/IPv6ExtHdrHopByHop(options=[RouterAlert()])/IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\0\0\0\0')])/IPv6ExtHdrRouting(addresses=['2001:db8::9'], segleft=0)/UDP(sport=7, dport=9)/b'ext')
put('frag6', Ether(src=G, dst=H)/IPv6(src='fe80::1', dst='fe80::2')/IPv6ExtHdrFragment(offset=0, m=1, id=0x1234567, nh=17)/UDP(sport=7, dport=9, len=100, chksum=0x1234)/(b'f' * 24))
put('vlan', Ether(src=G, dst=H)/Dot1Q(vlan=100, prio=5)/IP(src='10.0.2.15', dst='10.0.2.3')/UDP(sport=1, dport=2)/b'v')
put('arp', Ether(src=G, dst='ff:ff:ff:ff:ff:ff')/ARP(op=1, hwsrc=G, psrc='10.0.2.15', pdst='10.0.2.2'))
put('icmp4', Ether(src=G, dst=H)/IP(src='10.0.2.15', dst='10.0.2.2')/ICMP(type=8, id=0x4321, seq=77)/b'payload!')
put('icmp6', Ether(src=G, dst=H)/IPv6(src='fe80::2', dst='fe80::1')/ICMPv6EchoRequest(id=0x4321, seq=77, data=b'payload6'))
put('rs', Ether(src=G, dst='33:33:00:00:00:02')/IPv6(src='fe80::2', dst='ff02::2', hlim=255)/ICMPv6ND_RS()/ICMPv6NDOptSrcLLAddr(lladdr=G))
put('ra', Ether(src=H, dst='33:33:00:00:00:01')/IPv6(src='fe80::1', dst='ff02::1', hlim=255)/ICMPv6ND_RA(chlim=64, M=1, O=0, routerlifetime=9000, reachabletime=30000, retranstimer=1000)/ICMPv6NDOptSrcLLAddr(lladdr=H)/ICMPv6NDOptMTU(mtu=1500)/ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=0, validlifetime=86400, preferredlifetime=14400, prefix='2001:db8:1::')/ICMPv6NDOptRDNSS(lifetime=1200, dns=['2001:db8::53', '2001:db8::54'])/ICMPv6NDOptDNSSL(lifetime=1200, searchlist=['a.example', 'b.example.org']))
put('ns', Ether(src=G, dst='33:33:ff:00:00:01')/IPv6(src='fe80::2', dst='ff02::1:ff00:1', hlim=255)/ICMPv6ND_NS(tgt='fe80::1')/ICMPv6NDOptSrcLLAddr(lladdr=G))
put('na', Ether(src=H, dst=G)/IPv6(src='fe80::1', dst='fe80::2', hlim=255)/ICMPv6ND_NA(tgt='fe80::1', R=1, S=1, O=1)/ICMPv6NDOptDstLLAddr(lladdr=H))
mac = bytes.fromhex('525400123456')
put('discover', Ether(src=G, dst='ff:ff:ff:ff:ff:ff')/IP(src='0.0.0.0', dst='255.255.255.255')/UDP(sport=68, dport=67)/BOOTP(chaddr=mac, xid=0x11223344)/DHCP(options=[('message-type', 'discover'), ('client_id', b'\x01' + mac), ('max_dhcp_size', 1500), ('hostname', b'guest'), ('param_req_list', [1, 3, 6, 26, 119, 121]), 'end']))
put('request', Ether(src=G, dst='ff:ff:ff:ff:ff:ff')/IP(src='0.0.0.0', dst='255.255.255.255')/UDP(sport=68, dport=67)/BOOTP(chaddr=mac, xid=0x11223344)/DHCP(options=[('message-type', 'request'), ('requested_addr', '10.0.2.15'), ('server_id', '10.0.2.2'), ('param_req_list', [1, 3]), 'end']))
put('release', Ether(src=G, dst=H)/IP(src='10.0.2.15', dst='10.0.2.2')/UDP(sport=68, dport=67)/BOOTP(chaddr=mac, xid=5, ciaddr='10.0.2.15')/DHCP(options=[('message-type', 'release'), ('server_id', '10.0.2.2'), 'end']))
put('inform', Ether(src=G, dst=H)/IP(src='10.0.2.15', dst='10.0.2.2')/UDP(sport=68, dport=67)/BOOTP(chaddr=mac, xid=6, ciaddr='10.0.2.15')/DHCP(options=[('message-type', 'inform'), 'end']))
put('offer', Ether(src=H, dst=G)/IP(src='10.0.2.2', dst='10.0.2.15')/UDP(sport=67, dport=68)/BOOTP(op=2, chaddr=mac, xid=0x11223344, yiaddr='10.0.2.15')/DHCP(options=[('message-type', 'offer'), ('server_id', '10.0.2.2'), ('lease_time', 7200), ('subnet_mask', '255.255.255.0'), ('router', '10.0.2.2'), ('name_server', '10.0.2.3', '10.0.2.4'), ('interface-mtu', 1500), 'end']))
duid = DUID_LL(lladdr=G)
sduid = DUID_LL(lladdr=H)
put('solicit', Ether(src=G, dst='33:33:00:01:00:02')/IPv6(src='fe80::2', dst='ff02::1:2')/UDP(sport=546, dport=547)/DHCP6_Solicit(trid=0x123456)/DHCP6OptElapsedTime(elapsedtime=100)/DHCP6OptClientId(duid=duid)/DHCP6OptRapidCommit()/DHCP6OptIA_NA(iaid=0xcafe, T1=0, T2=0)/DHCP6OptOptReq(reqopts=[23, 24]))
put('request6', Ether(src=G, dst='33:33:00:01:00:02')/IPv6(src='fe80::2', dst='ff02::1:2')/UDP(sport=546, dport=547)/DHCP6_Request(trid=0x654321)/DHCP6OptClientId(duid=duid)/DHCP6OptServerId(duid=sduid)/DHCP6OptIA_NA(iaid=0xcafe, T1=100, T2=200, ianaopts=[DHCP6OptIAAddress(addr='2001:db8::15', preflft=300, validlft=600)]))
put('renew', Ether(src=G, dst=H)/IPv6(src='fe80::2', dst='fe80::1')/UDP(sport=546, dport=547)/DHCP6_Renew(trid=1)/DHCP6OptClientId(duid=duid)/DHCP6OptServerId(duid=sduid)/DHCP6OptIA_NA(iaid=1))
put('rebind', Ether(src=G, dst=H)/IPv6(src='fe80::2', dst='ff02::1:2')/UDP(sport=546, dport=547)/DHCP6_Rebind(trid=2)/DHCP6OptClientId(duid=duid)/DHCP6OptIA_NA(iaid=1))
put('confirm', Ether(src=G, dst=H)/IPv6(src='fe80::2', dst='ff02::1:2')/UDP(sport=546, dport=547)/DHCP6_Confirm(trid=3)/DHCP6OptClientId(duid=duid)/DHCP6OptIA_NA(iaid=1, ianaopts=[DHCP6OptIAAddress(addr='2001:db8::15')]))
put('inforeq', Ether(src=G, dst=H)/IPv6(src='fe80::2', dst='ff02::1:2')/UDP(sport=546, dport=547)/DHCP6_InfoRequest(trid=4)/DHCP6OptOptReq(reqopts=[23]))
put('reply6', Ether(src=H, dst=G)/IPv6(src='fe80::1', dst='fe80::2')/UDP(sport=547, dport=546)/DHCP6_Reply(trid=0x654321)/DHCP6OptServerId(duid=sduid)/DHCP6OptClientId(duid=duid)/DHCP6OptIA_NA(iaid=0xcafe, T1=100, T2=200, ianaopts=[DHCP6OptIAAddress(addr='2001:db8::15', preflft=300, validlft=600)])/DHCP6OptDNSServers(dnsservers=['2001:db8::53'])/DHCP6OptDNSDomains(dnsdomains=['example.com'])/DHCP6OptStatusCode(statuscode=0, statusmsg='fine'))
print(json.dumps(out))
