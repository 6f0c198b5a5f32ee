// probe: the one static tool of the podman end-to-end test
// (apps/pasta/test/podman.e2e.test.ts). It goes into the test's busybox image,
// whose busybox 1.35 has no UDP client that waits for a reply and whose
// `wget -T` crashes, and it plays the servers in the test's namespaces too.
//
// Clients print one JSON line and exit 0 on success, 1 on failure; every
// step is bounded by a deadline. Servers run until killed.
//
//	probe udp HOST PORT MSG [TIMEOUT_S]      send MSG, wait for the reply (retried every 500 ms)
//	probe tcp HOST PORT MSG [TIMEOUT_S]      connect, send MSG, half-close, read the reply
//	probe get HOST PORT [TIMEOUT_S]          connect, read to EOF: bytes and sha256
//	probe resolve NAME [TIMEOUT_S [SERVER]]  resolve NAME (A and AAAA, pure Go resolver) through
//	                                         /etc/resolv.conf, or asking SERVER (port 53) only
//	probe udp-echo ADDRS PORT                UDP echo server, reply prefixed with "echo "
//	probe tcp-echo ADDRS PORT                TCP echo server (per connection: read to EOF, answer "echo " + data)
//	probe serve ADDRS PORT FILE              TCP server sending FILE to each client, then closing
//	probe dns ADDRS PORT NAME A AAAA         DNS server (UDP and TCP) answering NAME with A and AAAA
//
// ADDRS is one address or a comma-separated list, each bound by itself.
//
//	probe sha256 FILE                        the sha256 of FILE
package main

import (
	"context"
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
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "udp":
		need(args, 3)
		udpClient(args[0], args[1], args[2], timeout(args, 3))
	case "tcp":
		need(args, 3)
		tcpClient(args[0], args[1], args[2], timeout(args, 3))
	case "get":
		need(args, 2)
		get(args[0], args[1], timeout(args, 2))
	case "resolve":
		need(args, 1)
		server := ""
		if len(args) > 2 {
			server = args[2]
		}
		resolve(args[0], timeout(args, 1), server)
	case "udp-echo":
		need(args, 2)
		udpEcho(args[0], args[1])
	case "tcp-echo":
		need(args, 2)
		tcpEcho(args[0], args[1])
	case "serve":
		need(args, 3)
		serve(args[0], args[1], args[2])
	case "dns":
		need(args, 5)
		dnsServer(args[0], args[1], args[2], args[3], args[4])
	case "sha256":
		need(args, 1)
		f, err := os.Open(args[0])
		check(err)
		h := sha256.New()
		n, err := io.Copy(h, f)
		check(err)
		report(true, map[string]any{"bytes": n, "sha256": hex.EncodeToString(h.Sum(nil))})
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: probe udp|tcp|get|resolve|udp-echo|tcp-echo|serve|dns|sha256 ARGS (see the source)")
	os.Exit(2)
}

func need(args []string, n int) {
	if len(args) < n {
		usage()
	}
}

func timeout(args []string, i int) time.Duration {
	if len(args) > i {
		s, err := strconv.ParseFloat(args[i], 64)
		check(err)
		return time.Duration(s * float64(time.Second))
	}
	return 5 * time.Second
}

func check(err error) {
	if err != nil {
		report(false, map[string]any{"error": err.Error()})
	}
}

// report prints one JSON line and exits: 0 when ok.
func report(ok bool, fields map[string]any) {
	fields["ok"] = ok
	b, _ := json.Marshal(fields)
	fmt.Println(string(b))
	if ok {
		os.Exit(0)
	}
	os.Exit(1)
}

func since(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}

func udpClient(host, port, msg string, limit time.Duration) {
	start := time.Now()
	deadline := start.Add(limit)
	conn, err := net.Dial("udp", net.JoinHostPort(host, port))
	check(err)
	defer conn.Close()
	buf := make([]byte, 65536)
	tries := 0
	var last error
	for time.Now().Before(deadline) {
		tries++
		if _, err := conn.Write([]byte(msg)); err != nil {
			last = err
			time.Sleep(200 * time.Millisecond)
			continue
		}
		wait := time.Now().Add(500 * time.Millisecond)
		if wait.After(deadline) {
			wait = deadline
		}
		conn.SetReadDeadline(wait)
		n, err := conn.Read(buf)
		if err != nil {
			last = err
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) {
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		report(true, map[string]any{"reply": string(buf[:n]), "tries": tries, "ms": since(start),
			"local": conn.LocalAddr().String(), "remote": conn.RemoteAddr().String()})
	}
	e := "no reply"
	if last != nil {
		e = "no reply: " + last.Error()
	}
	report(false, map[string]any{"error": e, "tries": tries, "ms": since(start)})
}

func dialTCP(host, port string, limit time.Duration) net.Conn {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), limit)
	check(err)
	conn.SetDeadline(time.Now().Add(limit))
	return conn
}

func tcpClient(host, port, msg string, limit time.Duration) {
	start := time.Now()
	conn := dialTCP(host, port, limit)
	defer conn.Close()
	_, err := conn.Write([]byte(msg))
	check(err)
	if tc, ok := conn.(*net.TCPConn); ok {
		check(tc.CloseWrite())
	}
	reply, err := io.ReadAll(conn)
	check(err)
	report(true, map[string]any{"reply": string(reply), "ms": since(start),
		"local": conn.LocalAddr().String(), "remote": conn.RemoteAddr().String()})
}

func get(host, port string, limit time.Duration) {
	start := time.Now()
	conn := dialTCP(host, port, limit)
	defer conn.Close()
	h := sha256.New()
	n, err := io.Copy(h, conn)
	check(err)
	ms := since(start)
	mbps := 0.0
	if ms > 0 {
		mbps = float64(n) * 8 / 1000 / ms
	}
	report(true, map[string]any{"bytes": n, "sha256": hex.EncodeToString(h.Sum(nil)), "ms": ms, "mbps": mbps})
}

func resolve(name string, limit time.Duration, server string) {
	start := time.Now()
	r := &net.Resolver{PreferGo: true}
	if server != "" {
		// Every query to SERVER:53, whatever /etc/resolv.conf names.
		r.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(server, "53"))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	addrs, err := r.LookupHost(ctx, name)
	check(err)
	report(true, map[string]any{"addrs": addrs, "ms": since(start)})
}

func listenAddr(addr, port string) string {
	return net.JoinHostPort(addr, port)
}

// forEach runs serve on every address of a comma-separated list, and waits.
// A UDP server binds each address, not the wildcard, wherever its host has
// more than one: a reply from a wildcard socket leaves from whatever address
// the route picks, which a connected client would not take.
func forEach(addrs string, serve func(addr string)) {
	list := strings.Split(addrs, ",")
	for _, a := range list[1:] {
		go serve(a)
	}
	serve(list[0])
}

func udpEcho(addrs, port string) {
	forEach(addrs, func(addr string) {
		pc, err := net.ListenPacket("udp", listenAddr(addr, port))
		check(err)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				continue
			}
			pc.WriteTo(append([]byte("echo "), buf[:n]...), from)
		}
	})
}

func tcpServer(addrs, port string, handle func(net.Conn)) {
	forEach(addrs, func(addr string) {
		l, err := net.Listen("tcp", listenAddr(addr, port))
		check(err)
		serveConns(l, 120*time.Second, handle)
	})
}

// serveConns hands every connection of l to handle on its own goroutine,
// closed afterwards, with a deadline so that a stuck peer cannot pin it.
func serveConns(l net.Listener, deadline time.Duration, handle func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(deadline))
			handle(c)
		}()
	}
}

func tcpEcho(addr, port string) {
	tcpServer(addr, port, func(c net.Conn) {
		data, err := io.ReadAll(io.LimitReader(c, 1<<20))
		if err != nil {
			return
		}
		c.Write(append([]byte("echo "), data...))
	})
}

func serve(addr, port, file string) {
	if _, err := os.Stat(file); err != nil {
		check(err)
	}
	tcpServer(addr, port, func(c net.Conn) {
		f, err := os.Open(file)
		if err != nil {
			return
		}
		defer f.Close()
		io.Copy(c, f)
	})
}

// ---------------------------------------------------------------- DNS

// dnsAnswer builds the reply to one query message: NAME's A or AAAA record
// for a question of that type and name, NXDOMAIN for any other name, an
// empty answer for other types of NAME. nil for what is not a query.
func dnsAnswer(q []byte, name string, a4, a6 net.IP) []byte {
	if len(q) < 12 || q[2]&0x80 != 0 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// The question: labels, then type and class.
	i := 12
	var labels []string
	for {
		if i >= len(q) {
			return nil
		}
		l := int(q[i])
		if l == 0 {
			i++
			break
		}
		if l&0xc0 != 0 || i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	qend := i + 4
	asked := strings.ToLower(strings.Join(labels, "."))
	want := strings.ToLower(strings.TrimSuffix(name, "."))

	r := make([]byte, 0, 512)
	r = append(r, q[0], q[1])       // id
	flags := uint16(0x8400)         // response, authoritative
	flags |= uint16(q[2]&0x01) << 8 // copy RD
	if asked != want {
		flags |= 3 // NXDOMAIN
	}
	var rdata []byte
	if asked == want {
		if qtype == 1 && a4 != nil {
			rdata = a4.To4()
		} else if qtype == 28 && a6 != nil {
			rdata = a6.To16()
		}
	}
	ancount := uint16(0)
	if rdata != nil {
		ancount = 1
	}
	r = binary.BigEndian.AppendUint16(r, flags)
	r = binary.BigEndian.AppendUint16(r, 1)       // qdcount
	r = binary.BigEndian.AppendUint16(r, ancount) // ancount
	r = binary.BigEndian.AppendUint16(r, 0)       // nscount
	r = binary.BigEndian.AppendUint16(r, 0)       // arcount
	r = append(r, q[12:qend]...)
	if rdata != nil {
		r = append(r, 0xc0, 12) // the name, by pointer to the question's
		r = binary.BigEndian.AppendUint16(r, qtype)
		r = binary.BigEndian.AppendUint16(r, 1)  // class IN
		r = binary.BigEndian.AppendUint32(r, 60) // ttl
		r = binary.BigEndian.AppendUint16(r, uint16(len(rdata)))
		r = append(r, rdata...)
	}
	return r
}

func dnsServer(addrs, port, name, a, aaaa string) {
	forEach(addrs, func(addr string) { dnsServe(addr, port, name, a, aaaa) })
}

func dnsServe(addr, port, name, a, aaaa string) {
	a4 := net.ParseIP(a)
	a6 := net.ParseIP(aaaa)
	pc, err := net.ListenPacket("udp", listenAddr(addr, port))
	check(err)
	l, err := net.Listen("tcp", listenAddr(addr, port))
	check(err)
	go serveConns(l, 10*time.Second, func(c net.Conn) {
		for {
			var lb [2]byte
			if _, err := io.ReadFull(c, lb[:]); err != nil {
				return
			}
			q := make([]byte, binary.BigEndian.Uint16(lb[:]))
			if _, err := io.ReadFull(c, q); err != nil {
				return
			}
			r := dnsAnswer(q, name, a4, a6)
			if r == nil {
				return
			}
			c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(r))))
			c.Write(r)
		}
	})
	buf := make([]byte, 4096)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			continue
		}
		fmt.Fprintf(os.Stderr, "query from %s\n", from)
		if r := dnsAnswer(buf[:n], name, a4, a6); r != nil {
			pc.WriteTo(r, from)
		}
	}
}
