// cert-manager's controller for the homelab-ingress test cluster, run out of cluster.
//
// The cert-manager module that the Go module proxy serves has no cmd/ (cmd/controller is a module of its
// own that the proxy does not serve). test/cluster/cluster.sh copies this file into a copy of the module's
// source (as cmd/homelab-ingress/controller) and builds it there, with cert-manager's own go.mod and
// go.sum; nothing of cert-manager is in the homelab-ingress repository.
//
// What runs is cert-manager's: its controller registry (pkg/controller: Known(), NewContextFactory) with
// every controller registered by its own package, and the issuers those controllers use (ACME with the
// HTTP-01 and DNS-01 solvers, RFC 2136 among them; CA; SelfSigned; Vault). The flags that exist have the
// real binary's names and defaults (internal/apis/config/controller/v1alpha1/defaults.go).
//
// Left out of the real binary:
//   - Venafi: cert-manager v1.21 needs github.com/Venafi/vcert/v5 v5.13.x (pkg/venafi/ngts), and the module
//     proxy answers 403 "This module version is not available" for every v5.13.x; v5.12.3 is served but
//     lacks pkg/venafi/ngts. So neither the Venafi issuer nor its CertificateRequest controller is built, and
//     neither is cert-manager's configuration defaulting (internal/apis/config/controller/v1alpha1 imports
//     them): the defaults below are written out.
//   - leader election (one instance, out of cluster), the healthz server, pprof, --config files, the
//     metrics server unless --metrics-listen-address is given (the real default listens on 0.0.0.0).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	cliflag "k8s.io/component-base/cli/flag"
	logsapi "k8s.io/component-base/logs/api/v1"

	"github.com/cert-manager/cert-manager/internal/cmd/util"
	"github.com/cert-manager/cert-manager/internal/controller/feature"
	"github.com/cert-manager/cert-manager/pkg/controller"
	gateways "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/gateways"
	listenerset "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/listenerset"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	dnsutil "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/server"
	cmutil "github.com/cert-manager/cert-manager/pkg/util"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"

	// Controllers and issuers register themselves in init(), as in the real binary (less Venafi).
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/acme"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/vault"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/metrics"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/vault"
)

// notByDefault: registered, but off unless named (as in the real binary: the Gateway API shims need
// --enable-gateway-api; the CertificateSigningRequest controllers are experimental and not imported here).
var notByDefault = sets.New(gateways.ControllerName, listenerset.ControllerName)

func main() {
	ctx, exit := util.SetupExitHandler(context.Background(), util.GracefulShutdown)
	defer exit() // may call os.Exit: deferred first, runs last

	logf.InitLogs()
	defer logf.FlushLogs()
	ctx = logf.NewContext(ctx, logf.Log, "controller")

	if err := run(ctx, os.Args[1:]); err != nil {
		logf.Log.Error(err, "cert-manager controller stopped")
		util.SetExitCode(err)
	}
}

type options struct {
	controller.ContextOptions
	controllers          []string
	workers              int
	metricsListenAddress string
	featureGates         map[string]bool
	dns01Nameservers     []string
	dns01RecursiveOnly   bool
	solverCPURequest     string
	solverMemoryRequest  string
	solverCPULimit       string
	solverMemoryLimit    string
	logging              logsapi.LoggingConfiguration
}

func run(ctx context.Context, args []string) error {
	// The real binary's defaults (internal/apis/config/controller/v1alpha1/defaults.go).
	o := &options{
		ContextOptions: controller.ContextOptions{
			Kubeconfig:         os.Getenv("KUBECONFIG"),
			KubernetesAPIQPS:   20,
			KubernetesAPIBurst: 50,
			IssuerOptions: controller.IssuerOptions{
				ClusterResourceNamespace:        "kube-system",
				ClusterIssuerAmbientCredentials: true,
			},
			ACMEOptions: controller.ACMEOptions{
				HTTP01SolverImage:            "quay.io/jetstack/cert-manager-acmesolver:" + cmutil.AppVersion,
				ACMEHTTP01SolverRunAsNonRoot: true,
				DNS01CheckRetryPeriod:        10 * time.Second,
			},
			IngressShimOptions: controller.IngressShimOptions{
				DefaultIssuerKind:                 "Issuer",
				DefaultIssuerGroup:                "cert-manager.io",
				DefaultAutoCertificateAnnotations: []string{"kubernetes.io/tls-acme"},
				GatewayAPIExtraProtocols:          sets.New[string](),
			},
			CertificateOptions: controller.CertificateOptions{
				CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
				CertificateRequestMinimumBackoffDuration: time.Hour,
				CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
			},
			SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: 60},
		},
		controllers:         []string{"*"},
		workers:             5,
		solverCPURequest:    "10m",
		solverMemoryRequest: "64Mi",
		solverCPULimit:      "100m",
		solverMemoryLimit:   "64Mi",
		featureGates:        map[string]bool{},
	}
	logsapi.SetRecommendedLoggingConfiguration(&o.logging)

	known := sets.KeySet(controller.Known())
	fs := pflag.NewFlagSet("cert-manager-controller", pflag.ContinueOnError)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "path to a kubeconfig (default $KUBECONFIG)")
	fs.StringVar(&o.APIServerHost, "master", o.APIServerHost, "optional API server address, overrides the kubeconfig's")
	fs.Float32Var(&o.KubernetesAPIQPS, "kube-api-qps", o.KubernetesAPIQPS, "client QPS when API Priority and Fairness is off")
	fs.IntVar(&o.KubernetesAPIBurst, "kube-api-burst", o.KubernetesAPIBurst, "client burst when API Priority and Fairness is off")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "watch only this namespace (ClusterIssuers are then off)")
	fs.StringVar(&o.ClusterResourceNamespace, "cluster-resource-namespace", o.ClusterResourceNamespace, "namespace of the Secrets that ClusterIssuers refer to")
	fs.StringSliceVar(&o.controllers, "controllers", o.controllers, "controllers to run: '*' for the default set, '-name' to leave one out; registered: "+strings.Join(sets.List(known), ", "))
	fs.IntVar(&o.workers, "concurrent-workers", o.workers, "workers per controller")
	fs.IntVar(&o.MaxConcurrentChallenges, "max-concurrent-challenges", o.MaxConcurrentChallenges, "challenges processed at once")
	fs.BoolVar(&o.ClusterIssuerAmbientCredentials, "cluster-issuer-ambient-credentials", o.ClusterIssuerAmbientCredentials, "ClusterIssuers may use ambient credentials")
	fs.BoolVar(&o.IssuerAmbientCredentials, "issuer-ambient-credentials", o.IssuerAmbientCredentials, "Issuers may use ambient credentials")
	fs.BoolVar(&o.EnableOwnerRef, "enable-certificate-owner-ref", o.EnableOwnerRef, "Certificates own their Secrets")
	fs.BoolVar(&o.EnableGatewayAPI, "enable-gateway-api", o.EnableGatewayAPI, "run the Gateway API certificate-shim and the HTTPRoute HTTP-01 solver (needs the Gateway API CRDs)")
	fs.StringVar(&o.DefaultIssuerName, "default-issuer-name", o.DefaultIssuerName, "issuer of ingress-shim when an Ingress names none")
	fs.StringVar(&o.DefaultIssuerKind, "default-issuer-kind", o.DefaultIssuerKind, "kind of that issuer")
	fs.StringVar(&o.DefaultIssuerGroup, "default-issuer-group", o.DefaultIssuerGroup, "group of that issuer")
	fs.StringVar(&o.HTTP01SolverImage, "acme-http01-solver-image", o.HTTP01SolverImage, "image of the HTTP-01 solver pods")
	fs.StringVar(&o.solverCPURequest, "acme-http01-solver-resource-request-cpu", o.solverCPURequest, "HTTP-01 solver pods' CPU request")
	fs.StringVar(&o.solverMemoryRequest, "acme-http01-solver-resource-request-memory", o.solverMemoryRequest, "HTTP-01 solver pods' memory request")
	fs.StringVar(&o.solverCPULimit, "acme-http01-solver-resource-limits-cpu", o.solverCPULimit, "HTTP-01 solver pods' CPU limit")
	fs.StringVar(&o.solverMemoryLimit, "acme-http01-solver-resource-limits-memory", o.solverMemoryLimit, "HTTP-01 solver pods' memory limit")
	fs.StringSliceVar(&o.HTTP01SolverNameservers, "acme-http01-solver-nameservers", o.HTTP01SolverNameservers, "DNS servers (host:port) for the HTTP-01 self check")
	fs.StringSliceVar(&o.dns01Nameservers, "dns01-recursive-nameservers", o.dns01Nameservers, "DNS servers (host:port) for the DNS-01 self check and zone lookups (default: /etc/resolv.conf)")
	fs.BoolVar(&o.dns01RecursiveOnly, "dns01-recursive-nameservers-only", o.dns01RecursiveOnly, "ask only --dns01-recursive-nameservers, never the zone's authoritative servers")
	fs.DurationVar(&o.DNS01CheckRetryPeriod, "dns01-check-retry-period", o.DNS01CheckRetryPeriod, "wait between DNS-01/HTTP-01 propagation checks")
	fs.StringSliceVar(&o.CopiedAnnotationPrefixes, "copied-annotation-prefixes", o.CopiedAnnotationPrefixes, "annotations copied from Certificates to CertificateRequests and Orders")
	fs.DurationVar(&o.CertificateRequestMinimumBackoffDuration, "certificate-request-minimum-backoff-duration", o.CertificateRequestMinimumBackoffDuration, "first back-off after a failed request")
	fs.DurationVar(&o.CertificateRequestMaximumBackoffDuration, "certificate-request-maximum-backoff-duration", o.CertificateRequestMaximumBackoffDuration, "longest back-off after failed requests")
	fs.StringVar(&o.metricsListenAddress, "metrics-listen-address", o.metricsListenAddress, "host:port of the Prometheus metrics listener (off when empty)")
	fs.Var(cliflag.NewMapStringBool(&o.featureGates), "feature-gates", "feature gates: "+strings.Join(utilfeature.DefaultFeatureGate.KnownFeatures(), "; "))
	logf.AddFlags(&o.logging, fs)
	fs.AddGoFlagSet(flag.CommandLine)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Kubeconfig == "" && o.APIServerHost == "" {
		return fmt.Errorf("--kubeconfig (or $KUBECONFIG) is required: this controller runs out of cluster")
	}
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(o.featureGates); err != nil {
		return fmt.Errorf("feature gates: %w", err)
	}
	if err := logf.ValidateAndApply(&o.logging); err != nil {
		return fmt.Errorf("logging flags: %w", err)
	}
	o.DNS01Nameservers = o.dns01Nameservers
	if len(o.DNS01Nameservers) == 0 {
		o.DNS01Nameservers = dnsutil.RecursiveNameservers
	}
	o.DNS01CheckAuthoritative = !o.dns01RecursiveOnly
	for _, q := range []struct {
		flag string
		in   string
		out  *resource.Quantity
	}{
		{"acme-http01-solver-resource-request-cpu", o.solverCPURequest, &o.HTTP01SolverResourceRequestCPU},
		{"acme-http01-solver-resource-request-memory", o.solverMemoryRequest, &o.HTTP01SolverResourceRequestMemory},
		{"acme-http01-solver-resource-limits-cpu", o.solverCPULimit, &o.HTTP01SolverResourceLimitsCPU},
		{"acme-http01-solver-resource-limits-memory", o.solverMemoryLimit, &o.HTTP01SolverResourceLimitsMemory},
	} {
		v, err := resource.ParseQuantity(q.in)
		if err != nil {
			return fmt.Errorf("--%s: %w", q.flag, err)
		}
		*q.out = v
	}
	enabled, err := enabledControllers(o, known)
	if err != nil {
		return err
	}
	return runControllers(ctx, o, enabled)
}

// enabledControllers resolves --controllers as the real binary does ('*', 'name', '-name').
func enabledControllers(o *options, known sets.Set[string]) (sets.Set[string], error) {
	defaults := known.Difference(notByDefault)
	enabled, disabled := sets.New[string](), []string{}
	for _, name := range o.controllers {
		switch {
		case name == "*":
			enabled.Insert(sets.List(defaults)...)
		case strings.HasPrefix(name, "-"):
			disabled = append(disabled, strings.TrimPrefix(name, "-"))
		default:
			if !known.Has(name) {
				return nil, fmt.Errorf("--controllers: unknown controller %q (registered: %s)", name, strings.Join(sets.List(known), ", "))
			}
			enabled.Insert(name)
		}
	}
	if len(disabled) > 0 && enabled.Len() == 0 {
		enabled.Insert(sets.List(defaults)...)
	}
	if utilfeature.DefaultFeatureGate.Enabled(feature.ExperimentalGatewayAPISupport) && o.EnableGatewayAPI {
		enabled.Insert(gateways.ControllerName)
	}
	if o.Namespace != "" {
		enabled.Delete(clusterissuers.ControllerName)
	}
	return enabled.Delete(disabled...), nil
}

func runControllers(rootCtx context.Context, o *options, enabled sets.Set[string]) error {
	rootCtx, cancel := context.WithCancel(rootCtx)
	defer cancel()
	log := logf.FromContext(rootCtx)
	v := cmutil.VersionInfo()
	log.Info("starting cert-manager controller (homelab-ingress test build, out of cluster)", "version", v.GitVersion, "git_commit", v.GitCommit, "go_version", v.GoVersion)
	log.Info("DNS-01 nameservers", "nameservers", o.DNS01Nameservers, "check_authoritative", o.DNS01CheckAuthoritative)

	factory, err := controller.NewContextFactory(rootCtx, o.ContextOptions)
	if err != nil {
		return err
	}
	ctx, err := factory.Build()
	if err != nil {
		return err
	}
	names := sets.List(enabled)
	sort.Strings(names)
	log.Info("enabled controllers", "controllers", names)

	g, gctx := errgroup.WithContext(rootCtx)
	if o.metricsListenAddress != "" {
		ln, err := server.Listen(gctx, "tcp", o.metricsListenAddress)
		if err != nil {
			return fmt.Errorf("metrics listener on %s: %w", o.metricsListenAddress, err)
		}
		ctx.Metrics.SetupACMECollector(ctx.SharedInformerFactory.Acme().V1().Challenges().Lister())
		ctx.Metrics.SetupCertificateCollector(ctx.SharedInformerFactory.Certmanager().V1().Certificates().Lister())
		ctx.Metrics.SetupIssuerCollector(ctx.SharedInformerFactory.Certmanager().V1().Issuers().Lister())
		if enabled.Has(clusterissuers.ControllerName) {
			ctx.Metrics.SetupClusterIssuerCollector(ctx.SharedInformerFactory.Certmanager().V1().ClusterIssuers().Lister())
		}
		srv := ctx.Metrics.NewServer(ln)
		g.Go(func() error {
			<-gctx.Done()
			return srv.Close()
		})
		g.Go(func() error {
			log.Info("metrics server listening", "address", ln.Addr().String())
			_ = srv.Serve(ln)
			return nil
		})
	}

	for _, name := range names {
		iface, err := controller.Known()[name](factory)
		if err != nil {
			cancel()
			_ = g.Wait()
			return fmt.Errorf("controller %s: %w", name, err)
		}
		g.Go(func() error {
			log.V(logf.InfoLevel).Info("starting controller", "controller", name)
			return iface.Run(o.workers, gctx)
		})
	}
	ctx.SharedInformerFactory.Start(gctx.Done())
	ctx.KubeSharedInformerFactory.Start(gctx.Done())
	ctx.HTTP01ResourceMetadataInformersFactory.Start(gctx.Done())
	gatewayAPI := utilfeature.DefaultFeatureGate.Enabled(feature.ExperimentalGatewayAPISupport) && o.EnableGatewayAPI
	if gatewayAPI {
		ctx.GWShared.Start(gctx.Done())
	}
	err = g.Wait()
	if gatewayAPI {
		ctx.GWShared.Shutdown()
	}
	ctx.HTTP01ResourceMetadataInformersFactory.Shutdown()
	ctx.KubeSharedInformerFactory.Shutdown()
	ctx.SharedInformerFactory.Shutdown()
	if err != nil {
		return err
	}
	log.Info("control loops exited")
	return nil
}
