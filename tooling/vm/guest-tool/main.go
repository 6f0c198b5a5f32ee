// gt: the guest's own test tool, a static binary in the guest's initramfs.
//
// Debian's busybox-static has no `nc -u`, no udhcpc6 and a `wget -T` that
// crashes, so what the scenarios need beyond busybox lives here, in Go's
// standard library only (CGO_ENABLED=0). Every command takes a step label
// first and prints its outcome as one line on stdout, which /init sends to
// the serial console:
//
//	@@VM {"step":"dns4","ok":true,...}
//
// Commands:
//
//	report STEP k=v...                      a line built from the arguments (ok=false marks a failure)
//	slaac STEP IF SECONDS                   waits for a global IPv6 address past DAD
//	ra STEP IF SECONDS                      sends a router solicitation, reports the advertisement
//	dhcp6 STEP IF SECONDS OUTFILE [solicit] DHCPv6 Information-Request (or Solicit with rapid
//	                                        commit, asking for an address); DNS servers to OUTFILE
//	dns STEP SERVER NAME A|AAAA SECONDS     one query, built and parsed here
//	udp-ask STEP ADDR PORT SECONDS [SIZE]   one datagram (SIZE bytes), waits for the same bytes back
//	fetch STEP ADDR PORT SECONDS            TCP download to EOF: bytes and sha256
//	gen STEP FILE BYTES                     a file of random bytes, reports its sha256
//	servers STEP UDPPORT TCPPORT FILE COUNT SECONDS
//	                                        UDP echo and a TCP server sending FILE to each
//	                                        client; ends after COUNT whole downloads
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var outMu sync.Mutex

// emit prints one result line; fields are merged after step and ok.
func emit(step string, ok bool, fields map[string]any) {
	m := map[string]any{"step": step, "ok": ok}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(append([]byte("@@VM "), b...), '\n'))
}

func fail(step string, err error, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["error"] = err.Error()
	emit(step, false, fields)
	os.Exit(1)
}

func ms(since time.Time) int64 { return time.Since(since).Milliseconds() }

func seconds(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		f = 5
	}
	return time.Duration(f * float64(time.Second))
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gt COMMAND STEP ARGS... (see the source's opening comment)")
		os.Exit(2)
	}
	cmd, step, a := os.Args[1], os.Args[2], os.Args[3:]
	need := func(n int) {
		if len(a) < n {
			fail(step, fmt.Errorf("%s needs %d arguments, got %d", cmd, n, len(a)), nil)
		}
	}
	switch cmd {
	case "report":
		report(step, a)
	case "slaac":
		need(2)
		slaac(step, a[0], seconds(a[1]))
	case "ra":
		need(2)
		routerAdvert(step, a[0], seconds(a[1]))
	case "dhcp6":
		need(3)
		dhcp6(step, a[0], seconds(a[1]), a[2], len(a) > 3 && a[3] == "solicit")
	case "dns":
		need(4)
		dnsQuery(step, a[0], a[1], a[2], seconds(a[3]))
	case "udp-ask":
		need(3)
		size := 0
		if len(a) > 3 {
			size, _ = strconv.Atoi(a[3])
		}
		udpAsk(step, a[0], a[1], seconds(a[2]), size)
	case "fetch":
		need(3)
		fetch(step, a[0], a[1], seconds(a[2]))
	case "gen":
		need(2)
		gen(step, a[0], a[1])
	case "servers":
		need(5)
		servers(step, a[0], a[1], a[2], a[3], seconds(a[4]))
	default:
		fail(step, fmt.Errorf("unknown command %q", cmd), nil)
	}
}

func report(step string, a []string) {
	ok := true
	f := map[string]any{}
	for _, kv := range a {
		k, v, found := strings.Cut(kv, "=")
		if !found {
			continue
		}
		if k == "ok" {
			ok = v != "false"
			continue
		}
		f[k] = strings.TrimSpace(v)
	}
	emit(step, ok, f)
}

// ---- IPv6 addresses ----

type addr6 struct {
	addr    string
	prefix  int
	scope   int
	flags   int
	ifname  string
	rawFlag string
}

// readIfInet6 parses /proc/net/if_inet6: address, ifindex, prefix length, scope, flags, name.
func readIfInet6() ([]addr6, error) {
	f, err := os.Open("/proc/net/if_inet6")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []addr6
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) < 6 || len(w[0]) != 32 {
			continue
		}
		raw, err := hex.DecodeString(w[0])
		if err != nil {
			continue
		}
		plen, _ := strconv.ParseInt(w[2], 16, 32)
		scope, _ := strconv.ParseInt(w[3], 16, 32)
		flags, _ := strconv.ParseInt(w[4], 16, 32)
		out = append(out, addr6{net.IP(raw).String(), int(plen), int(scope), int(flags), w[5], w[4]})
	}
	return out, sc.Err()
}

const ifaTentative = 0x40
const ifaDadFailed = 0x08

func slaac(step, ifname string, wait time.Duration) {
	t0 := time.Now()
	for {
		list, err := readIfInet6()
		if err != nil {
			fail(step, err, nil)
		}
		var seen []string
		for _, x := range list {
			if x.ifname != ifname {
				continue
			}
			seen = append(seen, fmt.Sprintf("%s/%d scope %d flags %s", x.addr, x.prefix, x.scope, x.rawFlag))
			if x.scope == 0 && x.flags&(ifaTentative|ifaDadFailed) == 0 {
				emit(step, true, map[string]any{"address": x.addr, "prefixlen": x.prefix, "ms": ms(t0), "all": seen})
				return
			}
		}
		if time.Since(t0) > wait {
			fail(step, errors.New("no global IPv6 address past DAD"), map[string]any{"all": seen, "ms": ms(t0)})
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// linkLocal returns the interface's link-local address and its MAC.
func linkLocal(ifname string) (net.IP, net.HardwareAddr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, nil, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, nil, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() == nil && n.IP.IsLinkLocalUnicast() {
			return n.IP, ifi.HardwareAddr, nil
		}
	}
	return nil, ifi.HardwareAddr, fmt.Errorf("%s has no link-local address", ifname)
}

// ---- router advertisement ----

func routerAdvert(step, ifname string, wait time.Duration) {
	t0 := time.Now()
	_, mac, err := linkLocal(ifname)
	if err != nil {
		fail(step, err, nil)
	}
	c, err := net.ListenIP("ip6:ipv6-icmp", &net.IPAddr{IP: net.IPv6unspecified})
	if err != nil {
		fail(step, err, nil)
	}
	defer c.Close()
	// A router solicitation is only valid with hop limit 255 (RFC 4861).
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_HOPS, 255)
			syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, 255)
		})
	}
	rs := []byte{133, 0, 0, 0, 0, 0, 0, 0, 1, 1}
	rs = append(rs, mac...)
	dst := &net.IPAddr{IP: net.ParseIP("ff02::2"), Zone: ifname}
	buf := make([]byte, 65536)
	next := time.Now()
	for time.Since(t0) < wait {
		if !time.Now().Before(next) {
			if _, err := c.WriteTo(rs, dst); err != nil {
				fail(step, err, nil)
			}
			next = time.Now().Add(time.Second)
		}
		c.SetReadDeadline(next)
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			continue
		}
		if n < 16 || buf[0] != 134 {
			continue
		}
		f := parseRA(buf[:n])
		f["router"] = from.String()
		f["ms"] = ms(t0)
		emit(step, true, f)
		return
	}
	fail(step, errors.New("no router advertisement"), map[string]any{"ms": ms(t0)})
}

func parseRA(m []byte) map[string]any {
	f := map[string]any{
		"hop_limit":       int(m[4]),
		"managed":         m[5]&0x80 != 0,
		"other":           m[5]&0x40 != 0,
		"router_lifetime": int(binary.BigEndian.Uint16(m[6:8])),
	}
	var prefixes, rdnss, dnssl []string
	for o := m[16:]; len(o) >= 8; {
		l := int(o[1]) * 8
		if l == 0 || l > len(o) {
			break
		}
		opt := o[:l]
		switch o[0] {
		case 3:
			if l >= 32 {
				prefixes = append(prefixes, fmt.Sprintf("%s/%d L=%t A=%t valid=%d", net.IP(opt[16:32]), opt[2], opt[3]&0x80 != 0, opt[3]&0x40 != 0, binary.BigEndian.Uint32(opt[4:8])))
			}
		case 5:
			if l >= 8 {
				f["mtu"] = int(binary.BigEndian.Uint32(opt[4:8]))
			}
		case 25:
			for p := 8; p+16 <= l; p += 16 {
				rdnss = append(rdnss, net.IP(opt[p:p+16]).String())
			}
		case 31:
			dnssl = append(dnssl, dnsNames(opt[8:])...)
		case 1:
			f["router_mac"] = net.HardwareAddr(opt[2:8]).String()
		}
		o = o[l:]
	}
	f["prefixes"] = prefixes
	f["rdnss"] = rdnss
	f["dnssl"] = dnssl
	return f
}

// dnsNames reads uncompressed DNS names back to back (DNSSL, DHCPv6 domain list).
func dnsNames(b []byte) []string {
	var out []string
	var labels []string
	for i := 0; i < len(b); {
		n := int(b[i])
		i++
		if n == 0 {
			if len(labels) > 0 {
				out = append(out, strings.Join(labels, "."))
			}
			labels = nil
			continue
		}
		if i+n > len(b) {
			break
		}
		labels = append(labels, string(b[i:i+n]))
		i += n
	}
	return out
}

// ---- DHCPv6 ----

func dhcp6(step, ifname string, wait time.Duration, outFile string, solicit bool) {
	t0 := time.Now()
	ll, mac, err := linkLocal(ifname)
	if err != nil {
		fail(step, err, nil)
	}
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: ll, Port: 546, Zone: ifname})
	if err != nil {
		fail(step, err, nil)
	}
	defer c.Close()
	xid := make([]byte, 3)
	rand.Read(xid)
	msg := []byte{11, xid[0], xid[1], xid[2]} // Information-Request
	if solicit {
		msg[0] = 1
	}
	opt := func(code int, data []byte) {
		msg = binary.BigEndian.AppendUint16(msg, uint16(code))
		msg = binary.BigEndian.AppendUint16(msg, uint16(len(data)))
		msg = append(msg, data...)
	}
	opt(1, append([]byte{0, 3, 0, 1}, mac...)) // client id: DUID-LL, Ethernet
	opt(6, []byte{0, 23, 0, 24})               // option request: DNS servers, domain list
	opt(8, []byte{0, 0})                       // elapsed time
	if solicit {
		opt(3, []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}) // IA_NA: IAID 1, T1 and T2 left to the server
		opt(14, nil)                                       // rapid commit
	}
	dst := &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: 547, Zone: ifname}
	buf := make([]byte, 65536)
	next := time.Now()
	for time.Since(t0) < wait {
		if !time.Now().Before(next) {
			if _, err := c.WriteToUDP(msg, dst); err != nil {
				fail(step, err, nil)
			}
			next = time.Now().Add(time.Second)
		}
		c.SetReadDeadline(next)
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		r := buf[:n]
		if n < 4 || (r[0] != 7 && !(solicit && r[0] == 2)) || r[1] != xid[0] || r[2] != xid[1] || r[3] != xid[2] {
			continue
		}
		var servers, domains []string
		f := map[string]any{"server": from.String(), "ms": ms(t0), "reply": map[byte]string{2: "advertise", 7: "reply"}[r[0]]}
		var addrs []string
		for o := r[4:]; len(o) >= 4; {
			code, l := binary.BigEndian.Uint16(o[0:2]), int(binary.BigEndian.Uint16(o[2:4]))
			if 4+l > len(o) {
				break
			}
			d := o[4 : 4+l]
			switch code {
			case 23:
				for p := 0; p+16 <= l; p += 16 {
					servers = append(servers, net.IP(d[p:p+16]).String())
				}
			case 24:
				domains = append(domains, dnsNames(d)...)
			case 13:
				if l >= 2 {
					f["status"] = int(binary.BigEndian.Uint16(d[0:2]))
				}
			case 3: // IA_NA: IAID, T1, T2, then its own options
				if l >= 12 {
					f["t1"], f["t2"] = int(binary.BigEndian.Uint32(d[4:8])), int(binary.BigEndian.Uint32(d[8:12]))
				}
				for io := d[min(12, l):]; len(io) >= 4; {
					ic, il := binary.BigEndian.Uint16(io[0:2]), int(binary.BigEndian.Uint16(io[2:4]))
					if 4+il > len(io) {
						break
					}
					if ic == 5 && il >= 24 {
						addrs = append(addrs, fmt.Sprintf("%s preferred=%d valid=%d", net.IP(io[4:20]), binary.BigEndian.Uint32(io[20:24]), binary.BigEndian.Uint32(io[24:28])))
					}
					if ic == 13 && il >= 2 {
						f["ia_status"] = int(binary.BigEndian.Uint16(io[4:6]))
					}
					io = io[4+il:]
				}
			}
			o = o[4+l:]
		}
		if solicit {
			f["addresses"] = addrs
		}
		f["dns"] = servers
		f["domains"] = domains
		os.WriteFile(outFile, []byte(strings.Join(servers, "\n")+"\n"), 0o644)
		emit(step, len(servers) > 0 && (!solicit || len(addrs) > 0), f)
		return
	}
	fail(step, errors.New("no DHCPv6 reply"), map[string]any{"ms": ms(t0)})
}

// ---- DNS ----

func dnsQuery(step, server, name, qtype string, wait time.Duration) {
	t0 := time.Now()
	var t uint16
	switch strings.ToUpper(qtype) {
	case "A":
		t = 1
	case "AAAA":
		t = 28
	default:
		fail(step, fmt.Errorf("query type %q: A or AAAA", qtype), nil)
	}
	f := map[string]any{"server": server, "name": name, "type": strings.ToUpper(qtype)}
	c, err := net.Dial("udp", net.JoinHostPort(server, "53"))
	if err != nil {
		fail(step, err, f)
	}
	defer c.Close()
	idb := make([]byte, 2)
	rand.Read(idb)
	q := []byte{idb[0], idb[1], 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		q = append(q, byte(len(label)))
		q = append(q, label...)
	}
	q = append(q, 0)
	q = binary.BigEndian.AppendUint16(q, t)
	q = binary.BigEndian.AppendUint16(q, 1)
	buf := make([]byte, 4096)
	for try := 1; time.Since(t0) < wait; try++ {
		if _, err := c.Write(q); err != nil {
			fail(step, err, f)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			r := buf[:n]
			if n < 12 || r[0] != idb[0] || r[1] != idb[1] || r[2]&0x80 == 0 {
				continue
			}
			answers, err := dnsAnswers(r, t)
			f["tries"] = try
			f["ms"] = ms(t0)
			f["rcode"] = int(r[3] & 0x0f)
			if err != nil {
				fail(step, err, f)
			}
			f["answers"] = answers
			emit(step, f["rcode"] == 0 && len(answers) > 0, f)
			return
		}
	}
	f["ms"] = ms(t0)
	fail(step, errors.New("no DNS answer"), f)
}

// skipName steps over a possibly compressed name at offset i.
func skipName(m []byte, i int) (int, error) {
	for i < len(m) {
		n := int(m[i])
		switch {
		case n == 0:
			return i + 1, nil
		case n&0xc0 == 0xc0:
			return i + 2, nil
		default:
			i += 1 + n
		}
	}
	return 0, errors.New("truncated name in the answer")
}

func dnsAnswers(m []byte, want uint16) ([]string, error) {
	qd, an := int(binary.BigEndian.Uint16(m[4:6])), int(binary.BigEndian.Uint16(m[6:8]))
	i := 12
	var err error
	for k := 0; k < qd; k++ {
		if i, err = skipName(m, i); err != nil {
			return nil, err
		}
		i += 4
	}
	var out []string
	for k := 0; k < an; k++ {
		if i, err = skipName(m, i); err != nil {
			return nil, err
		}
		if i+10 > len(m) {
			return nil, errors.New("truncated answer")
		}
		typ, l := binary.BigEndian.Uint16(m[i:i+2]), int(binary.BigEndian.Uint16(m[i+8:i+10]))
		i += 10
		if i+l > len(m) {
			return nil, errors.New("truncated record data")
		}
		if typ == want && (l == 4 || l == 16) {
			out = append(out, net.IP(m[i:i+l]).String())
		}
		i += l
	}
	return out, nil
}

// ---- UDP ----

func udpAsk(step, host, port string, wait time.Duration, size int) {
	t0 := time.Now()
	f := map[string]any{"to": net.JoinHostPort(host, port)}
	c, err := net.Dial("udp", net.JoinHostPort(host, port))
	if err != nil {
		fail(step, err, f)
	}
	defer c.Close()
	f["local"] = c.LocalAddr().String()
	nonce := make([]byte, 8)
	rand.Read(nonce)
	buf := make([]byte, 65536)
	per := wait / 3
	for try := 1; try <= 3; try++ {
		p := []byte(fmt.Sprintf("passt-ts guest %s try %d %x", step, try, nonce))
		for i := len(p); i < size; i++ {
			p = append(p, byte(i*7+try))
		}
		sent := time.Now()
		if _, err := c.Write(p); err != nil {
			f["write_error"] = err.Error()
			time.Sleep(per)
			continue
		}
		c.SetReadDeadline(sent.Add(per))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			if string(buf[:n]) == string(p) {
				f["tries"] = try
				f["bytes"] = n
				f["rtt_us"] = time.Since(sent).Microseconds()
				f["ms"] = ms(t0)
				emit(step, true, f)
				return
			}
		}
	}
	f["ms"] = ms(t0)
	fail(step, errors.New("no echo in 3 tries"), f)
}

// ---- TCP ----

func fetch(step, host, port string, wait time.Duration) {
	t0 := time.Now()
	f := map[string]any{"from": net.JoinHostPort(host, port)}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), wait)
	if err != nil {
		f["ms"] = ms(t0)
		fail(step, err, f)
	}
	defer c.Close()
	f["local"] = c.LocalAddr().String()
	c.SetDeadline(t0.Add(wait))
	h := sha256.New()
	t1 := time.Now()
	n, err := io.Copy(h, c)
	f["bytes"] = n
	f["sha256"] = hex.EncodeToString(h.Sum(nil))
	f["ms"] = ms(t1)
	if d := time.Since(t1).Seconds(); d > 0 {
		f["mbit_s"] = float64(int(float64(n)*8/d/1e4)) / 100
	}
	if err != nil {
		fail(step, err, f)
	}
	emit(step, true, f)
}

func gen(step, file, size string) {
	n, err := strconv.Atoi(size)
	if err != nil || n < 0 {
		fail(step, fmt.Errorf("bad size %q", size), nil)
	}
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		fail(step, err, nil)
	}
	sum := sha256.Sum256(b)
	emit(step, true, map[string]any{"file": file, "bytes": n, "sha256": hex.EncodeToString(sum[:])})
}

func servers(step, udpPort, tcpPort, file, count string, wait time.Duration) {
	t0 := time.Now()
	data, err := os.ReadFile(file)
	if err != nil {
		fail(step, err, nil)
	}
	want, _ := strconv.Atoi(count)
	sum := sha256.Sum256(data)
	u, err := net.ListenPacket("udp", ":"+udpPort)
	if err != nil {
		fail(step, err, nil)
	}
	l, err := net.Listen("tcp", ":"+tcpPort)
	if err != nil {
		fail(step, err, nil)
	}
	emit(step, true, map[string]any{"udp": u.LocalAddr().String(), "tcp": l.Addr().String(), "bytes": len(data), "sha256": hex.EncodeToString(sum[:])})
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := u.ReadFrom(buf)
			if err != nil {
				return
			}
			_, werr := u.WriteTo(buf[:n], from)
			f := map[string]any{"from": from.String(), "bytes": n}
			if werr != nil {
				f["error"] = werr.Error()
			}
			emit("udp-echo", werr == nil, f)
		}
	}()
	done := make(chan struct{}, 64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				t1 := time.Now()
				c.SetDeadline(t0.Add(wait))
				n, err := c.Write(data)
				if tc, ok := c.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
				// Wait for the client to close, so that "served" means it read everything.
				io.Copy(io.Discard, c)
				f := map[string]any{"peer": c.RemoteAddr().String(), "bytes": n, "ms": ms(t1)}
				if err != nil {
					f["error"] = err.Error()
				}
				emit("tcp-serve", err == nil, f)
				if err == nil {
					done <- struct{}{}
				}
			}(c)
		}
	}()
	timeout := time.After(wait - time.Since(t0))
	for got := 0; got < want; {
		select {
		case <-done:
			got++
		case <-timeout:
			emit(step+"-end", false, map[string]any{"error": "timed out", "served": got, "ms": ms(t0)})
			return
		}
	}
	emit(step+"-end", true, map[string]any{"served": want, "ms": ms(t0)})
}
