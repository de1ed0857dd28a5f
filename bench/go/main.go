// Helpers for bench/families.ts, built at run time (never committed as a binary):
//
//	rs  -mb 256           klauspost/reedsolomon 10+4 encode and reconstruct(4 lost) MB/s on this
//	                      machine, one goroutine (per core, like our codec) and the library default
//	get -c 16 -n 20000 -list FILE
//	                      GETs of the URLs in FILE (one per line, picked round-robin) from c
//	                      keep-alive clients: req/s, p50/p99 ms, failures
package main

import (
	"bufio"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/reedsolomon"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchgo rs|get ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "rs":
		rsBench(os.Args[2:])
	case "get":
		getBench(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

func rsBench(args []string) {
	fs := flag.NewFlagSet("rs", flag.ExitOnError)
	mb := fs.Int("mb", 256, "MiB of data per figure")
	_ = fs.Parse(args)
	const shard = 1 << 20
	for _, mode := range []struct {
		name string
		opts []reedsolomon.Option
	}{{"1 goroutine", []reedsolomon.Option{reedsolomon.WithMaxGoroutines(1)}}, {"default", nil}} {
		enc, err := reedsolomon.New(10, 4, mode.opts...)
		if err != nil {
			panic(err)
		}
		shards := make([][]byte, 14)
		for i := range shards {
			shards[i] = make([]byte, shard)
			_, _ = rand.Read(shards[i])
		}
		rounds := *mb / 10
		if rounds < 1 {
			rounds = 1
		}
		for w := 0; w < 5; w++ {
			_ = enc.Encode(shards)
		}
		t := time.Now()
		for r := 0; r < rounds; r++ {
			if err := enc.Encode(shards); err != nil {
				panic(err)
			}
		}
		encMBs := float64(rounds*10*shard) / 1e6 / time.Since(t).Seconds()
		var dur time.Duration
		for r := 0; r < rounds; r++ {
			for _, i := range []int{1, 5, 10, 12} {
				shards[i] = shards[i][:0]
			}
			t = time.Now()
			if err := enc.Reconstruct(shards); err != nil {
				panic(err)
			}
			dur += time.Since(t)
		}
		recMBs := float64(rounds*10*shard) / 1e6 / dur.Seconds()
		fmt.Printf("klauspost %s: encode %.0f MB/s reconstruct %.0f MB/s\n", mode.name, encMBs, recMBs)
	}
}

func getBench(args []string) {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	c := fs.Int("c", 16, "concurrent clients")
	n := fs.Int("n", 20000, "requests")
	list := fs.String("list", "", "file of URLs")
	timeout := fs.Duration("timeout", 120*time.Second, "give up after")
	_ = fs.Parse(args)
	f, err := os.Open(*list)
	if err != nil {
		panic(err)
	}
	var urls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() != "" {
			urls = append(urls, sc.Text())
		}
	}
	_ = f.Close()
	if len(urls) == 0 {
		panic("no URLs")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next, failed int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, *c)
	deadline := time.Now().Add(*timeout)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := atomic.AddInt64(&next, 1) - 1
				if i >= int64(*n) {
					return
				}
				t := time.Now()
				resp, err := client.Get(urls[i%int64(len(urls))])
				if err != nil {
					atomic.AddInt64(&failed, 1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					atomic.AddInt64(&failed, 1)
					if len(body) > 120 {
						body = body[:120]
					}
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, body))
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		}(w)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000
	}
	if e := firstErr.Load(); e != nil {
		fmt.Printf("first failure: %s\n", e)
	}
	fmt.Printf("requests %d failed %d seconds %.3f reqPerSec %.1f p50ms %.3f p99ms %.3f\n", len(all), failed, secs, float64(len(all))/secs, pct(0.5), pct(0.99))
}
