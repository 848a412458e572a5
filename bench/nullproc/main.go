// nullproc: the cheapest possible ext_proc processor, for the benchmark's cost floor. It answers
// every request-headers message with an empty HeadersResponse and every request-body message with
// the same shape of answer chainroute gives (one header set, route cache cleared), without looking
// at the body. Envoy + nullproc is what any ext_proc-based router costs before it does any work.
package main

import (
	"flag"
	"log"
	"net"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extproc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
)

var (
	headersAnswer = &extproc.ProcessingResponse{Response: &extproc.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extproc.HeadersResponse{}}}
	bodyAnswer = &extproc.ProcessingResponse{Response: &extproc.ProcessingResponse_RequestBody{
		RequestBody: &extproc.BodyResponse{Response: &extproc.CommonResponse{
			HeaderMutation: &extproc.HeaderMutation{SetHeaders: []*core.HeaderValueOption{{
				Header: &core.HeaderValue{Key: "x-chainroute-pool", RawValue: []byte("head")}}}},
			ClearRouteCache: true}}}}
)

type processor struct {
	extproc.UnimplementedExternalProcessorServer
}

func (processor) Process(stream extproc.ExternalProcessor_ProcessServer) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil // Envoy ends each stream with a reset once the request is done
		}
		var answer *extproc.ProcessingResponse
		switch req.Request.(type) {
		case *extproc.ProcessingRequest_RequestHeaders:
			answer = headersAnswer
		case *extproc.ProcessingRequest_RequestBody:
			answer = bodyAnswer
		default:
			continue
		}
		if err := stream.Send(answer); err != nil {
			return nil
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18101", "listen address")
	flag.Parse()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	extproc.RegisterExternalProcessorServer(s, processor{})
	log.Printf("nullproc listening on %s", *addr)
	log.Fatal(s.Serve(l))
}
