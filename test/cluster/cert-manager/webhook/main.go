// cert-manager's webhook for the homelab-ingress test cluster, run out of cluster.
//
// Built by test/cluster/cluster.sh inside a copy of the cert-manager module's source (as
// cmd/homelab-ingress/webhook), which is what lets it use the webhook's server wiring
// (internal/webhook.NewCertManagerWebhookServer: the admission chain of CertificateRequest identity,
// CertificateRequest approval and cert-manager's resource validation). A module of our own could not
// import internal/. The flags are cert-manager's own (pkg/webhook/options).
//
// Differences from the real binary: no --config file; the healthz listener is off (the real one listens
// on all interfaces); the TLS listener binds to $HOMELAB_INGRESS_LISTEN_HOST (default 127.0.0.1), a
// change that cluster.sh makes in the copy of pkg/webhook/server at build time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/cert-manager/cert-manager/internal/apis/config/webhook/validation"
	"github.com/cert-manager/cert-manager/internal/cmd/util"
	cmwebhook "github.com/cert-manager/cert-manager/internal/webhook"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	cmutil "github.com/cert-manager/cert-manager/pkg/util"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	"github.com/cert-manager/cert-manager/pkg/webhook/options"
	"github.com/cert-manager/cert-manager/pkg/webhook/server"
)

func main() {
	ctx, exit := util.SetupExitHandler(context.Background(), util.GracefulShutdown)
	defer exit()

	logf.InitLogs()
	defer logf.FlushLogs()
	ctx = logf.NewContext(ctx, logf.Log, "webhook")

	if err := run(ctx, os.Args[1:]); err != nil {
		logf.Log.Error(err, "cert-manager webhook stopped")
		util.SetExitCode(err)
	}
}

func run(ctx context.Context, args []string) error {
	c, err := options.NewWebhookConfiguration()
	if err != nil {
		return err
	}
	c.KubeConfig = os.Getenv("KUBECONFIG")
	c.MetricsListenAddress = "0" // off unless asked for (the default listens on 0.0.0.0)
	fs := pflag.NewFlagSet("cert-manager-webhook", pflag.ContinueOnError)
	options.AddConfigFlags(fs, c)
	fs.AddGoFlagSet(flag.CommandLine)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.KubeConfig == "" && c.APIServerHost == "" {
		return fmt.Errorf("--kubeconfig (or $KUBECONFIG) is required: this webhook runs out of cluster")
	}
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(c.FeatureGates); err != nil {
		return fmt.Errorf("feature gates: %w", err)
	}
	if errs := validation.ValidateWebhookConfiguration(c, nil); len(errs) > 0 {
		return fmt.Errorf("invalid flags: %w", errs.ToAggregate())
	}
	if err := logf.ValidateAndApply(&c.Logging); err != nil {
		return fmt.Errorf("logging flags: %w", err)
	}
	log := logf.FromContext(ctx)
	v := cmutil.VersionInfo()
	log.Info("starting cert-manager webhook (homelab-ingress test build, out of cluster)", "version", v.GitVersion, "git_commit", v.GitCommit, "port", c.SecurePort)
	srv, err := cmwebhook.NewCertManagerWebhookServer(log, *c, func(s *server.Server) { s.HealthzAddr = nil })
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
