#include "cmd/cmd.h"
#include "plumbing/config.h"
#include "plumbing/fs.h"
#include "serve/service.h"

#include <csignal>
#include <pthread.h>

namespace pach::cmd {

extern const char *const kUsage_serve =
	"usage: pach serve [--listen <addr>] [--read-only] [--anonymous]\n"
	"                  [--tls-cert <file> --tls-key <file>] [--domain <name>]\n\n"
	"Serve the store over HTTP until interrupted: every branch as an S3 bucket\n"
	"(<branch>.<repo>, <repo> for master, <commit>.<repo> read-only), a web\n"
	"console at /console/ and Prometheus metrics at /metrics.  Requests are\n"
	"signed with the key pair in serve.accessKey and serve.secretKey.\n\n"
	"    --listen <addr>     HOST:PORT to listen on (default 127.0.0.1:30600;\n"
	"                        port 0 picks a free one)\n"
	"    --read-only         refuse every write\n"
	"    --anonymous         let unsigned requests read\n"
	"    --tls-cert <file>   serve HTTPS with this PEM certificate ...\n"
	"    --tls-key <file>    ... and this PEM private key\n"
	"    --domain <name>     also take the bucket from the Host header, as\n"
	"                        <bucket>.<name> (virtual-host style)\n";

int cmd_serve(Args &args)
{
	serve::ServeOptions o;
	o.listen = serve::parse_listen(args.value(0, "listen").value_or("127.0.0.1:30600"));
	o.gateway.read_only = args.flag(0, "read-only");
	o.gateway.anonymous = args.flag(0, "anonymous");
	auto cert = args.value(0, "tls-cert"), key = args.value(0, "tls-key");
	auto domain = args.value(0, "domain");
	args.rest(0, 0);
	if (domain) {
		o.domain = *domain;
		serve::check_domain(o.domain);
	}
	if (cert.has_value() != key.has_value())
		args.usage_error("--tls-cert and --tls-key go together");
	if (cert) {
		o.listen.tls_cert = read_file_small(*cert);
		o.listen.tls_key = read_file_small(*key);
	}
	Store &s = args.store();
	auto ak = config_get(&s, "serve.accessKey"), sk = config_get(&s, "serve.secretKey");
	if (ak.has_value() != sk.has_value())
		die("serve.accessKey and serve.secretKey go together: set both");
	if (ak) {
		if (ak->empty() || sk->empty())
			die("serve.accessKey and serve.secretKey must not be empty");
		o.gateway.creds = remote::Credentials{*ak, *sk, ""};
	}
	if (!ak && !o.gateway.anonymous)
		die("no credentials to check requests against: set serve.accessKey and serve.secretKey "
		    "(pach config), or serve unsigned reads with --anonymous");

	// Signals are taken by this thread alone (sigwait): the server's
	// threads, started below, inherit the mask.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);
	signal(SIGPIPE, SIG_IGN);

	serve::Service svc(s, o);
	serve::Server server(o.listen, svc);
	svc.start_usage_reports();
	std::string host = o.listen.host.find(':') != std::string::npos ? "[" + o.listen.host + "]" : o.listen.host;
	fmt::print(stderr, "serving {} on {}://{}:{} (S3 gateway; console at /console/, metrics at /metrics){}\n", s.git_dir(),
		   cert ? "https" : "http", host, server.port(),
		   o.gateway.read_only ? ", read-only" : "");
	// Scripts read the address from standard output.
	fmt::print("{}://{}:{}\n", cert ? "https" : "http", host, server.port());
	fflush(stdout);
	int sig = 0;
	sigwait(&set, &sig);
	fmt::print(stderr, "pach serve: stopping ({})\n", strsignal(sig));
	return 0;
}

} // namespace pach::cmd
