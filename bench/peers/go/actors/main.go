// Command actors runs the eight actor workloads of bench/actors/ in Go, the
// idiomatic Go way: one goroutine per process, one channel per mailbox. Each
// workload verifies its own result (exit status 1 with a message otherwise) and
// prints one JSON line in the format of the hiko programs:
//
//	{"bench":NAME,"impl":"go","n":N,"ms":MS,"rate":R,"unit":U}
//
// Usage: actors WORKLOAD [ARGS...], with the same arguments as
// bench/actors/WORKLOAD.hml. Run with GOMAXPROCS=2 to compare with hiko on
// 2 workers. Standard library only.
//
// Mailboxes are buffered channels. Where a workload can have many messages in
// flight, the capacity is mailboxCap (senders block when it is full: Go's
// backpressure, where hiko's mailbox is unbounded); spawn gives the root a
// capacity of N so that no child ever blocks (otherwise up to 10^6 blocked
// goroutines would pile up, which is slower and not what the workload means).
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

const mailboxCap = 4096

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", a...)
	os.Exit(1)
}

func argAt(i int, d int) int {
	if len(os.Args) <= 2+i {
		return d
	}
	v, err := strconv.Atoi(os.Args[2+i])
	if err != nil {
		fail("bad argument %q", os.Args[2+i])
	}
	return v
}

func rateOf(count int, ms int64) int64 {
	if ms < 1 {
		ms = 1
	}
	return int64(count) * 1000 / ms
}

func report(name string, n int, d time.Duration, count int, unit string, extra string) {
	ms := d.Milliseconds()
	fmt.Printf("{\"bench\":%q,\"impl\":\"go\",\"n\":%d,\"ms\":%d,\"rate\":%d,\"unit\":%q%s}\n",
		name, n, ms, rateOf(count, ms), unit, extra)
}

// pingpong: N round trips of an int between main and an echo goroutine.
func pingpong() {
	n := argAt(0, 1000000)
	if n < 1 {
		fail("pingpong: N must be at least 1")
	}
	start := time.Now()
	toPong := make(chan int, 1)
	toPing := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		for {
			k := <-toPong
			toPing <- k
			if k == 0 {
				close(done)
				return
			}
		}
	}()
	total := 0
	for k := n - 1; ; k-- {
		toPong <- k
		r := <-toPing
		if r != k {
			fail("pingpong: reply does not match")
		}
		if k == 0 {
			break
		}
		total += r
	}
	<-done
	d := time.Since(start)
	if total != n*(n-1)/2 {
		fail("pingpong: wrong sum of replies")
	}
	report("pingpong", n, d, n, "round trips/s", "")
}

// ring: M goroutines in a ring pass a token H hops.
func ring() {
	h := argAt(0, 1000000)
	m := argAt(1, 1000)
	if h < 0 || m < 1 {
		fail("ring: bad arguments")
	}
	boxes := make([]chan int, m)
	for i := range boxes {
		boxes[i] = make(chan int, 1)
	}
	root := make(chan int, 1)
	var finished = make(chan struct{}, m)
	for i := 0; i < m; i++ {
		go func(idx int, in, next chan int) {
			defer func() { finished <- struct{}{} }()
			for {
				t := <-in
				if t > 0 {
					next <- t - 1
				} else if t == 0 {
					root <- idx
					next <- -1
					return
				} else {
					// The stop token; the node that started it has returned,
					// so its mailbox takes one message nobody reads (dropped,
					// as in hiko).
					select {
					case next <- -1:
					default:
					}
					return
				}
			}
		}(i+1, boxes[i], boxes[(i+1)%m])
	}
	start := time.Now()
	boxes[0] <- h
	last := <-root
	d := time.Since(start)
	if last != h%m+1 {
		fail("ring: token ended at the wrong node")
	}
	for i := 0; i < m; i++ {
		<-finished
	}
	report("ring", h, d, h, "hops/s", "")
}

// skynet: fan-out 10, L levels; each goroutine sums its children's results,
// which they send to a channel of their parent.
func skynet(num, size int, parent chan<- int) {
	if size == 1 {
		parent <- num
		return
	}
	s := size / 10
	mine := make(chan int, 10)
	for i := 0; i < 10; i++ {
		go skynet(num+i*s, s, mine)
	}
	sum := 0
	for i := 0; i < 10; i++ {
		sum += <-mine
	}
	parent <- sum
}

func skynetMain() {
	levels := argAt(0, 6)
	if levels < 0 || levels > 8 {
		fail("skynet: L must be 0..8")
	}
	leaves := 1
	for i := 0; i < levels; i++ {
		leaves *= 10
	}
	procs := (10*leaves - 1) / 9
	start := time.Now()
	top := make(chan int, 1)
	go skynet(0, leaves, top)
	sum := <-top
	d := time.Since(start)
	if sum != leaves*(leaves-1)/2 {
		fail("skynet: wrong sum")
	}
	report("skynet", procs, d, procs, "processes/s", "")
}

// spawn: N goroutines each send their index to main.
func spawnMain() {
	n := argAt(0, 1000000)
	if n < 0 {
		fail("spawn: N must be non-negative")
	}
	start := time.Now()
	box := make(chan int, n)
	for i := 0; i < n; i++ {
		go func(i int) { box <- i }(i)
	}
	total := 0
	for k := 0; k < n; k++ {
		total += <-box
	}
	d := time.Since(start)
	if total != n*(n-1)/2 {
		fail("spawn: wrong sum")
	}
	report("spawn", n, d, n, "processes/s", "")
}

// fanin: 4 senders x N messages of (int, 16-byte string) to main.
type fanMsg struct {
	i int
	s string
}

func fanin() {
	n := argAt(0, 1000000)
	if n < 0 {
		fail("fanin: N must be non-negative")
	}
	const senders = 4
	// Built at run time so that every message carries its own string value,
	// as a copied hiko string would, rather than a pointer to a literal.
	payload := strings.Repeat("0123456789abcdef", 1)
	start := time.Now()
	box := make(chan fanMsg, mailboxCap)
	done := make(chan struct{}, senders)
	for k := 0; k < senders; k++ {
		go func() {
			for i := 0; i < n; i++ {
				box <- fanMsg{i, payload}
			}
			done <- struct{}{}
		}()
	}
	total := 0
	for k := 0; k < senders*n; k++ {
		m := <-box
		if m.s != "0123456789abcdef" {
			fail("fanin: bad payload")
		}
		total += m.i
	}
	d := time.Since(start)
	for k := 0; k < senders; k++ {
		<-done
	}
	if total != senders*(n*(n-1)/2) {
		fail("fanin: wrong sum")
	}
	report("fanin", senders*n, d, senders*n, "messages/s", "")
}

// counting: a counter goroutine takes N increments, then a get.
type countMsg struct {
	get   bool
	reply chan int
}

func counting() {
	n := argAt(0, 1000000)
	if n < 0 {
		fail("counting: N must be non-negative")
	}
	box := make(chan countMsg, mailboxCap)
	go func() {
		c := 0
		for m := range box {
			if m.get {
				m.reply <- c
				return
			}
			c++
		}
	}()
	mine := make(chan int, 1)
	start := time.Now()
	for k := 0; k < n; k++ {
		box <- countMsg{}
	}
	box <- countMsg{get: true, reply: mine}
	count := <-mine
	d := time.Since(start)
	if count != n {
		fail("counting: wrong count")
	}
	report("counting", n, d, n, "increments/s", "")
}

// bigmsg: a 1,000-element linked list (the same structure as a hiko list)
// goes back and forth N times. Actors do not share memory, so every send
// copies the list (hiko's send deep-copies it); without the copy Go would only
// pass a pointer and the workload would be pingpong.
type cell struct {
	head int
	tail *cell
}

func copyList(l *cell) *cell {
	var first *cell
	var last *cell
	for ; l != nil; l = l.tail {
		c := &cell{head: l.head}
		if last == nil {
			first = c
		} else {
			last.tail = c
		}
		last = c
	}
	return first
}

func bigmsg() {
	n := argAt(0, 100000)
	length := argAt(1, 1000)
	if n < 0 || length < 1 {
		fail("bigmsg: bad arguments")
	}
	var l *cell
	for i := length; i >= 1; i-- {
		l = &cell{i, l}
	}
	toEcho := make(chan *cell, 1)
	toMain := make(chan *cell, 1)
	done := make(chan struct{})
	go func() {
		for {
			m := <-toEcho
			if m == nil {
				close(done)
				return
			}
			toMain <- copyList(m)
		}
	}()
	start := time.Now()
	for k := 0; k < n; k++ {
		toEcho <- copyList(l)
		r := <-toMain
		if r == nil || r.head != 1 {
			fail("bigmsg: bad reply")
		}
		l = r
	}
	d := time.Since(start)
	toEcho <- nil
	<-done
	s, c := 0, 0
	for p := l; p != nil; p = p.tail {
		s += p.head
		c++
	}
	if s != length*(length+1)/2 || c != length {
		fail("bigmsg: wrong final list")
	}
	report("bigmsg", n, d, n, "round trips/s", "")
}

// hold: N goroutines blocked in a receive on their own mailbox.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	v, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return v * int64(os.Getpagesize())
}

func hold() {
	n := argAt(0, 100000)
	if n < 1 {
		fail("hold: N must be at least 1")
	}
	before := rssBytes()
	start := time.Now()
	ready := make(chan int, mailboxCap)
	for i := 0; i < n; i++ {
		box := make(chan int, 1)
		go func(i int, box chan int) {
			ready <- i
			<-box
		}(i, box)
	}
	total := 0
	for k := 0; k < n; k++ {
		total += <-ready
	}
	d := time.Since(start)
	after := rssBytes()
	if total != n*(n-1)/2 {
		fail("hold: wrong sum")
	}
	per := int64(-1)
	if before >= 0 && after >= 0 {
		per = (after - before) / int64(n)
	}
	report("hold", n, d, n, "processes/s", fmt.Sprintf(",\"bytes_per_proc\":%d", per))
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: actors pingpong|ring|skynet|spawn|fanin|counting|bigmsg|hold [ARGS...]")
	}
	switch os.Args[1] {
	case "pingpong":
		pingpong()
	case "ring":
		ring()
	case "skynet":
		skynetMain()
	case "spawn":
		spawnMain()
	case "fanin":
		fanin()
	case "counting":
		counting()
	case "bigmsg":
		bigmsg()
	case "hold":
		hold()
	default:
		fail("unknown workload %q", os.Args[1])
	}
}
