// Command echoserver is the Go peer of the echo benchmark (bench/echo/): a TCP
// echo server with one goroutine per connection, the idiomatic Go way. It
// listens on 127.0.0.1:PORT (0 picks a free port), prints "port N" once it
// accepts connections, and exits by itself after -max-seconds so that a
// forgotten server never lingers. Run it with GOMAXPROCS=2. Standard library
// only.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16384)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any free port)")
	maxSeconds := flag.Int("max-seconds", 600, "exit after this many seconds")
	flag.Parse()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
	time.AfterFunc(time.Duration(*maxSeconds)*time.Second, func() { os.Exit(0) })
	fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			// Transient (EMFILE and the like): back off a little and go on.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}
