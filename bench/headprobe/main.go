// Command headprobe measures the time from a node's new head to Envoy applying new endpoints.
//
// Each sample moves heads through the fake upstreams' control endpoints and polls Envoy's admin
// /clusters (every -interval) until the host lines of -cluster (address + health flags) change:
//
//	lead:     the leader jumps -jump blocks ahead; the followers now lag and must leave the pool.
//	catch-up: the followers jump the same distance; they are synced again and must come back.
//
// The measured time includes how chainroute learns of the head (with a wsUrl: the upstream's newHeads
// notification and the probe it triggers; without: up to a poll interval), its xDS coalescing window,
// the ADS push and Envoy applying it. Output: one JSON object with the samples.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
)

var (
	admin     = flag.String("admin", "http://127.0.0.1:9901", "Envoy admin base URL")
	cluster   = flag.String("cluster", "eth-head", "cluster whose hosts are watched")
	leader    = flag.String("leader", "http://127.0.0.1:9001", "upstream that leads")
	followers = flag.String("followers", "http://127.0.0.1:9002,http://127.0.0.1:9003", "upstreams that follow")
	samples   = flag.Int("samples", 10, "cycles (each gives a lead and a catch-up sample)")
	jump      = flag.Int("jump", 10, "blocks to jump")
	interval  = flag.Duration("interval", time.Millisecond, "admin poll interval")
	timeout   = flag.Duration("timeout", 5*time.Second, "give up on one sample after this")
)

var client = &http.Client{Timeout: 2 * time.Second}

func snapshot() (string, error) {
	resp, err := client.Get(*admin + "/clusters")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	prefix := *cluster + "::"
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, prefix) && strings.Contains(l, "::health_flags::") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "|"), nil
}

func post(url string) error {
	resp, err := client.Post(url, "text/plain", nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}

// stable waits until the snapshot has not changed for `quiet` and returns it.
func stable(quiet time.Duration) string {
	last, _ := snapshot()
	since := time.Now()
	for time.Since(since) < quiet {
		time.Sleep(10 * time.Millisecond)
		s, _ := snapshot()
		if s != last {
			last, since = s, time.Now()
		}
	}
	return last
}

func measure(baseline string, act func() error) (float64, error) {
	t0 := time.Now()
	if err := act(); err != nil {
		return 0, err
	}
	for time.Since(t0) < *timeout {
		s, err := snapshot()
		if err == nil && s != baseline {
			return float64(time.Since(t0).Microseconds()) / 1000, nil
		}
		time.Sleep(*interval)
	}
	return 0, fmt.Errorf("no endpoint change within %v", *timeout)
}

// pct is the nearest-rank percentile.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}

func main() {
	flag.Parse()
	fs := strings.Split(*followers, ",")
	var lead, catch, all []float64
	var errs []string
	for i := 0; i < *samples; i++ {
		base := stable(300 * time.Millisecond)
		if base == "" {
			errs = append(errs, "cluster has no hosts in /clusters")
			time.Sleep(500 * time.Millisecond)
			continue
		}
		ms, err := measure(base, func() error { return post(fmt.Sprintf("%s/control/jump?by=%d", *leader, *jump)) })
		if err != nil {
			errs = append(errs, "lead: "+err.Error())
		} else {
			lead, all = append(lead, ms), append(all, ms)
		}
		base = stable(300 * time.Millisecond)
		ms, err = measure(base, func() error {
			for _, f := range fs {
				if err := post(fmt.Sprintf("%s/control/jump?by=%d", f, *jump)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, "catch-up: "+err.Error())
		} else {
			catch, all = append(catch, ms), append(all, ms)
		}
		time.Sleep(time.Duration(100+rand.Intn(300)) * time.Millisecond)
	}
	out := map[string]any{
		"lead_ms": lead, "catchup_ms": catch, "errors": errs,
		"n": len(all), "p50_ms": pct(all, 50), "p99_ms": pct(all, 99), "max_ms": pct(all, 100),
		"lead_p50_ms": pct(lead, 50), "catchup_p50_ms": pct(catch, 50),
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
