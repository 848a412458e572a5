// Command upstream is a tiny, fast fake EVM JSON-RPC node for chainroute's benchmark.
//
// It answers eth_blockNumber, eth_syncing (false), eth_chainId, net_version, eth_getBalance,
// eth_call, eth_getLogs, eth_getBlockByNumber (numbers and the latest, safe and finalized tags:
// head, head-32, head-64), eth_getBlockByHash, eth_getTransactionByHash, eth_getTransactionReceipt
// (deterministic, in blocks well below finality) and batches of them, echoing every request id byte
// for byte. The height follows a
// clock shared by every instance (one block per second), plus a per-node offset, so all instances
// agree on the head unless told otherwise through the control endpoints:
//
//	POST /control/stall        stop advancing (height frozen)
//	POST /control/advance      advance with the clock again (from the frozen height)
//	POST /control/jump?by=N    move this node's head N blocks ahead now
//	GET  /control/height       the current height, decimal
//	GET  /control/calls        "HTTP-requests JSON-RPC-calls" answered since start (a batch is one
//	                           request and one call per element), so a run can count what reached
//	                           the nodes
//	GET  /ws                   WebSocket: eth_subscribe("newHeads") gets a notification on every
//	                           head change (clock tick or control call), as a real node's does
//
// A node started without -archive answers state or logs older than -keep blocks below its head
// with the error a pruned node gives ("missing trie node"), so misrouting is visible.
// Dependencies: the standard library and golang.org/x/net/websocket.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/websocket"
)

const epoch = 1_750_000_000 // shared clock origin: height = base + seconds since epoch + offset

var (
	addr    = flag.String("addr", "127.0.0.1:9001", "listen address")
	name    = flag.String("name", "node", "node name, sent back in the X-Node header")
	archive = flag.Bool("archive", false, "serve state at any block (else only the last -keep blocks)")
	keep    = flag.Int64("keep", 128, "blocks of state a non-archive node keeps")
	base    = flag.Int64("base", 18_000_000, "height at the clock epoch")
)

type heightState struct {
	mu      sync.Mutex
	offset  int64
	stalled bool
	frozen  int64
}

func (h *heightState) clock() int64 { return *base + time.Now().Unix() - epoch }

func (h *heightState) get() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stalled {
		return h.frozen
	}
	return h.clock() + h.offset
}

func (h *heightState) stall() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.stalled {
		h.frozen = h.clock() + h.offset
		h.stalled = true
	}
}

func (h *heightState) advance() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stalled {
		h.offset = h.frozen - h.clock()
		h.stalled = false
	}
}

func (h *heightState) jump(by int64) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stalled {
		h.frozen += by
		return h.frozen
	}
	h.offset += by
	return h.clock() + h.offset
}

var height heightState

// What reached this node: HTTP requests and JSON-RPC calls (GET /control/calls).
var httpRequests, rpcCalls atomic.Int64

type request struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

// Fixed answers (hex strings are what real nodes return).
var (
	balance  = []byte(`"0x1bc16d674ec80000"`)
	callRes  = []byte(`"0x0000000000000000000000000000000000000000000000000de0b6b3a7640000"`)
	chainID  = []byte(`"0x1"`)
	falseRes = []byte(`false`)
	netVer   = []byte(`"1"`)
	logTmpl  = `[{"address":"0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48","topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"],"data":"0x00000000000000000000000000000000000000000000000000000000000f4240","blockNumber":"0x%x","transactionHash":"0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060","transactionIndex":"0x0","blockHash":"0xb3b20624f8f0f86eb50dd04688409e5cea4bd02d700bf6e79e9384d47d6a5a35","logIndex":"0x0","removed":false}]`
)

// blockJSON is block n (no transactions bodies), with a hash derived from n.
func blockJSON(n int64) []byte {
	return []byte(fmt.Sprintf(`{"number":"0x%x","hash":"0x%064x","parentHash":"0x%064x","timestamp":"0x%x","gasLimit":"0x1c9c380","gasUsed":"0x5208","miner":"0x0000000000000000000000000000000000000000","transactions":["0x%064x"],"uncles":[]}`, n, n, n-1, epoch+n-*base, n))
}

// txBlock is the block a transaction hash is in: well below any head (the first 4 hex digits of
// the hash), so every receipt is final.
func txBlock(hash string) (int64, bool) {
	if len(hash) != 66 || !strings.HasPrefix(hash, "0x") {
		return 0, false
	}
	v, err := strconv.ParseInt(hash[2:6], 16, 64)
	if err != nil {
		return 0, false
	}
	return 1_000_000 + v, true
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// blockOf reads a block parameter: a tag or hex quantity. ok=false for tags meaning "recent".
func blockOf(raw json.RawMessage) (int64, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	if !strings.HasPrefix(s, "0x") {
		return 0, false
	}
	n, err := strconv.ParseInt(s[2:], 16, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func pruned(head int64, raw json.RawMessage) bool {
	if *archive || raw == nil {
		return false
	}
	n, ok := blockOf(raw)
	return ok && n < head-*keep
}

func writeResult(b []byte, id json.RawMessage, result []byte) []byte {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, idOrNull(id)...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}')
}

func writeError(b []byte, id json.RawMessage, code int, msg string) []byte {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, idOrNull(id)...)
	b = append(b, `,"error":{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = strconv.AppendQuote(b, msg)
	return append(b, `}}`...)
}

func idOrNull(id json.RawMessage) []byte {
	if len(id) == 0 {
		return []byte("null")
	}
	return id
}

func answer(b []byte, r *request, head int64) []byte {
	param := func(i int) json.RawMessage {
		if i < len(r.Params) {
			return r.Params[i]
		}
		return nil
	}
	switch r.Method {
	case "eth_blockNumber":
		return writeResult(b, r.ID, []byte(fmt.Sprintf(`"0x%x"`, head)))
	case "eth_syncing":
		return writeResult(b, r.ID, falseRes)
	case "eth_chainId":
		return writeResult(b, r.ID, chainID)
	case "net_version":
		return writeResult(b, r.ID, netVer)
	case "eth_getBlockByNumber":
		var n int64
		switch tag := str(param(0)); tag {
		case "latest", "pending":
			n = head
		case "safe":
			n = head - 32
		case "finalized":
			n = head - 64
		case "earliest":
			n = 0
		default:
			v, ok := blockOf(param(0))
			if !ok {
				return writeError(b, r.ID, -32602, "invalid argument 0: hex string without 0x prefix")
			}
			if v > head {
				return writeResult(b, r.ID, []byte("null"))
			}
			n = v
		}
		return writeResult(b, r.ID, blockJSON(n))
	case "eth_getBlockByHash":
		h := str(param(0))
		v, err := strconv.ParseInt(strings.TrimPrefix(h, "0x"), 16, 64)
		if err != nil || v > head {
			return writeResult(b, r.ID, []byte("null"))
		}
		return writeResult(b, r.ID, blockJSON(v))
	case "eth_getTransactionByHash", "eth_getTransactionReceipt":
		h := str(param(0))
		n, ok := txBlock(h)
		if !ok {
			return writeError(b, r.ID, -32602, "invalid argument 0: hex string has length "+strconv.Itoa(len(h))+", want 64 for common.Hash")
		}
		if r.Method == "eth_getTransactionByHash" {
			return writeResult(b, r.ID, []byte(fmt.Sprintf(`{"hash":"%s","blockNumber":"0x%x","blockHash":"0x%064x","transactionIndex":"0x0","from":"0x00000000000000000000000000000000000000aa","to":"0x000000000000000000000000000000000000beef","value":"0x1","gas":"0x5208","gasPrice":"0x3b9aca00","nonce":"0x0","input":"0x"}`, h, n, n)))
		}
		return writeResult(b, r.ID, []byte(fmt.Sprintf(`{"transactionHash":"%s","blockNumber":"0x%x","blockHash":"0x%064x","transactionIndex":"0x0","from":"0x00000000000000000000000000000000000000aa","to":"0x000000000000000000000000000000000000beef","status":"0x1","gasUsed":"0x5208","cumulativeGasUsed":"0x5208","logs":[],"logsBloom":"0x%0512x","type":"0x0","effectiveGasPrice":"0x3b9aca00","contractAddress":null}`, h, n, n, 0)))
	case "eth_getBalance":
		if pruned(head, param(1)) {
			return writeError(b, r.ID, -32000, "missing trie node")
		}
		return writeResult(b, r.ID, balance)
	case "eth_call":
		if pruned(head, param(1)) {
			return writeError(b, r.ID, -32000, "missing trie node")
		}
		return writeResult(b, r.ID, callRes)
	case "eth_getLogs":
		var f struct {
			FromBlock json.RawMessage `json:"fromBlock"`
		}
		if p := param(0); p != nil {
			_ = json.Unmarshal(p, &f)
		}
		if pruned(head, f.FromBlock) {
			return writeError(b, r.ID, -32000, "missing trie node")
		}
		n, ok := blockOf(f.FromBlock)
		if !ok {
			n = head
		}
		return writeResult(b, r.ID, []byte(fmt.Sprintf(logTmpl, n)))
	default:
		return writeError(b, r.ID, -32601, "the method "+r.Method+" does not exist/is not available")
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func rpc(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	bp := bufPool.Get().(*[]byte)
	out := (*bp)[:0]
	head := height.get()
	httpRequests.Add(1)
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []request
		if err := json.Unmarshal(trimmed, &batch); err != nil {
			rpcCalls.Add(1)
			out = writeError(out, nil, -32700, "parse error")
		} else {
			rpcCalls.Add(int64(len(batch)))
			out = append(out, '[')
			for i := range batch {
				if i > 0 {
					out = append(out, ',')
				}
				out = answer(out, &batch[i], head)
			}
			out = append(out, ']')
		}
	} else {
		var r request
		rpcCalls.Add(1)
		if err := json.Unmarshal(trimmed, &r); err != nil {
			out = writeError(out, nil, -32700, "parse error")
		} else {
			out = answer(out, &r, head)
		}
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["X-Node"] = []string{*name}
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	_, _ = w.Write(out)
	*bp = out
	bufPool.Put(bp)
}

func control(w http.ResponseWriter, req *http.Request) {
	switch strings.TrimPrefix(req.URL.Path, "/control/") {
	case "stall":
		height.stall()
	case "advance":
		height.advance()
	case "jump":
		by, err := strconv.ParseInt(req.URL.Query().Get("by"), 10, 64)
		if err != nil {
			http.Error(w, "by=N required", http.StatusBadRequest)
			return
		}
		height.jump(by)
	case "height":
		fmt.Fprintf(w, "%d\n", height.get())
		return
	case "calls":
		fmt.Fprintf(w, "%d %d\n", httpRequests.Load(), rpcCalls.Load())
		return
	default:
		http.NotFound(w, req)
		return
	}
	kickHeads()
	fmt.Fprintf(w, "%d\n", height.get())
}

// newHeads: subscribers get one notification per head change. The broadcaster wakes at each clock
// tick and on every control call; no polling.
var (
	subsMu sync.Mutex
	subs   = map[*websocket.Conn]bool{}
	kick   = make(chan struct{}, 1)
)

func kickHeads() {
	select {
	case kick <- struct{}{}:
	default:
	}
}

func broadcastHeads() {
	last := height.get()
	untilTick := func() time.Duration {
		return time.Until(time.Now().Truncate(time.Second).Add(time.Second + time.Millisecond))
	}
	tick := time.NewTimer(untilTick())
	for {
		select {
		case <-kick:
		case <-tick.C:
			tick.Reset(untilTick())
		}
		h := height.get()
		if h == last {
			continue
		}
		last = h
		msg := fmt.Sprintf(`{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":{"number":"0x%x"}}}`, h)
		subsMu.Lock()
		for c := range subs {
			if err := websocket.Message.Send(c, msg); err != nil {
				delete(subs, c)
				c.Close()
			}
		}
		subsMu.Unlock()
	}
}

func newHeads(c *websocket.Conn) {
	defer c.Close()
	for {
		var in string
		if err := websocket.Message.Receive(c, &in); err != nil {
			subsMu.Lock()
			delete(subs, c)
			subsMu.Unlock()
			return
		}
		var r struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal([]byte(in), &r) != nil || r.Method != "eth_subscribe" {
			_ = websocket.Message.Send(c, string(writeError(nil, r.ID, -32601, "only eth_subscribe(newHeads) here")))
			continue
		}
		subsMu.Lock()
		err := websocket.Message.Send(c, string(writeResult(nil, r.ID, []byte(`"0x1"`))))
		subs[c] = true
		subsMu.Unlock()
		if err != nil {
			return
		}
	}
}

func main() {
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("/control/", control)
	mux.Handle("/ws", websocket.Server{Handler: newHeads})
	go broadcastHeads()
	mux.HandleFunc("/", rpc)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("upstream %s on %s archive=%v height=%d", *name, *addr, *archive, height.get())
	log.Fatal(srv.ListenAndServe())
}
