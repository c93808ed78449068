// cert-manager's ACME HTTP-01 solver (the server its solver pods run), for running on a loopback address.
//
// Built by test/cluster/cluster.sh inside a copy of the cert-manager module's source (as
// cmd/homelab-ingress/acmesolver): the solver is pkg/issuer/acme/http/solver, the same code the real
// acmesolver image runs, with the same flags (--listen-port, --domain, --token, --key). The real one listens
// on all interfaces; in the copy, cluster.sh makes it listen on $HOMELAB_INGRESS_LISTEN_HOST
// (default 127.0.0.1) at build time.
package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/cert-manager/cert-manager/internal/cmd/util"
	"github.com/cert-manager/cert-manager/pkg/issuer/acme/http/solver"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

func main() {
	ctx, exit := util.SetupExitHandler(context.Background(), util.GracefulShutdown)
	defer exit()

	logf.InitLogs()
	defer logf.FlushLogs()
	log := logf.FromContext(logf.NewContext(ctx, logf.Log, "acmesolver"))

	s := new(solver.HTTP01Solver)
	fs := pflag.NewFlagSet("acmesolver", pflag.ContinueOnError)
	fs.IntVar(&s.ListenPort, "listen-port", 8089, "the port number to listen on for connections")
	fs.StringVar(&s.Domain, "domain", "", "the domain name to verify")
	fs.StringVar(&s.Token, "token", "", "the challenge token to verify against")
	fs.StringVar(&s.Key, "key", "", "the challenge key to respond with")
	if err := fs.Parse(os.Args[1:]); err != nil {
		util.SetExitCodeValue(2)
		return
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(shutdownCtx); err != nil {
			log.Error(err, "error shutting down acmesolver server")
		}
	}()
	if err := s.Listen(log); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error(err, "acmesolver stopped")
		util.SetExitCode(err)
		return
	}
	<-done
}
