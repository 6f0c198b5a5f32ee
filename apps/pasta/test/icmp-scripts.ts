/**
 * Python scripts the ICMP tests run inside pasta's namespace (as root there,
 * through nsenter): a burst of echo requests with distinct identifiers on a
 * raw socket, and a storm of malformed ICMP frames written into the tap with
 * scapy. Each prints one JSON line.
 */

/**
 * argv: target count first_id wave. Sends `count` echo requests, identifiers
 * first_id.., in waves of `wave` back to back; each wave's replies are
 * collected (up to 2 s) before the next wave goes out. With a wave smaller
 * than the flow cap no flow can be evicted before its reply is in, so every
 * identifier must come back however slow the machine, while the table still
 * sees `count` distinct flows in quick succession. Reports how many distinct
 * identifiers came back, and whether every reply carried its sequence number.
 */
export const BURST = String.raw`
import json, select, socket, struct, sys, time
target, n, base, wave = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
got, badseq = set(), 0
def collect(want, until):
    global badseq
    while time.time() < until and not want <= got:
        r, _, _ = select.select([s], [], [], 0.05)
        if not r:
            continue
        d, a = s.recvfrom(4096)
        ihl = (d[0] & 15) * 4
        if len(d) < ihl + 8:
            continue
        t, c, _, ident, seq = struct.unpack("!BBHHH", d[ihl:ihl + 8])
        i = (ident - base) & 0xffff
        if t == 0 and i < n and a[0] == target and ident not in got:
            got.add(ident)
            if seq != (i * 7 + 1) & 0xffff:
                badseq += 1
t0 = time.time()
for w in range(0, n, wave):
    want = set()
    for i in range(w, min(n, w + wave)):
        ident, seq = (base + i) & 0xffff, (i * 7 + 1) & 0xffff
        body = b"burst-%05d" % i
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = hdr[:2] + struct.pack("!H", csum(hdr + body)) + hdr[4:] + body
        s.sendto(pkt, (target, 0))
        want.add(ident)
    collect(want, time.time() + 2)
print(json.dumps({"sent": n, "replies": len(got), "badSeq": badseq, "seconds": round(time.time() - t0, 3)}))
`;

/**
 * argv: iface dst_mac src4 dst4 src6 dst6. Writes malformed ICMP frames into
 * the tap: echo requests with bad checksums, echo requests cut short of their
 * 8-byte header (consistent IP lengths), and well-formed messages that are
 * not echo requests (timestamp requests, echo replies). Prints how many of
 * each kind went out.
 */
export const STORM = String.raw`
import json, sys, random
from scapy.all import Ether, IP, IPv6, ICMP, ICMPv6EchoRequest, ICMPv6EchoReply, Raw, sendp, get_if_hwaddr, conf
from scapy.utils import checksum
conf.verb = 0
random.seed(11)
iface, dst, s4, d4, s6, d6 = sys.argv[1:7]
src = get_if_hwaddr(iface)
e = Ether(src=src, dst=dst)
malformed, not_echo = [], []
def bad(frame, off):
    # Flips the checksum at byte offset off: wrong whatever it was.
    b = bytearray(bytes(frame))
    b[off] ^= 0x5a
    return bytes(b)
for i in range(1000):
    malformed.append(bad(e/IP(src=s4, dst=d4)/ICMP(type=8, id=40000 + i, seq=i)/Raw(b"bad-csum-v4"), 14 + 20 + 2))
for i in range(500):
    malformed.append(bad(e/IPv6(src=s6, dst=d6)/ICMPv6EchoRequest(id=41000 + i, seq=i, data=b"bad-csum-v6"), 14 + 40 + 2))
for i in range(500):
    # 4 or 7 bytes of ICMP: type, code, checksum, no room for id and sequence.
    n = 4 if i % 2 else 7
    icmp = bytearray([8, 0, 0, 0] + [0x11] * (n - 4))
    c = checksum(bytes(icmp))
    icmp[2], icmp[3] = c >> 8, c & 0xff
    malformed.append(bytes(e/IP(src=s4, dst=d4, proto=1)/Raw(bytes(icmp))))
for i in range(250):
    icmp = bytes([128, 0, 0, 0] + [0x22] * (i % 4))
    malformed.append(bytes(e/IPv6(src=s6, dst=d6, nh=58)/Raw(icmp)))
for i in range(600):
    # Timestamp requests (type 13) and echo replies (type 0), checksums right.
    t = 13 if i % 2 else 0
    body = b"\0" * 12 if t == 13 else b"not-a-request"
    not_echo.append(bytes(e/IP(src=s4, dst=d4)/ICMP(type=t, id=42000 + i, seq=i)/Raw(body)))
for i in range(400):
    not_echo.append(bytes(e/IPv6(src=s6, dst=d6)/ICMPv6EchoReply(id=43000 + i, seq=i, data=b"a-reply")))
frames = malformed + not_echo
random.shuffle(frames)
sendp(frames, iface=iface)
print(json.dumps({"malformed": len(malformed), "notEcho": len(not_echo), "total": len(frames)}))
`;
