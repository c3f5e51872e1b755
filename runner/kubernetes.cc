#include "runner/kubernetes.h"

#include "plumbing/config.h"
#include "plumbing/error.h"
#include "plumbing/store.h"
#include "plumbing/version.h"
#include "remote/s3.h"
#include "runner/job.h"
#include "runner/runtime.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace pach::runner {

namespace {

// Where the pod sees things.  The worker image holds the bundle at
// /pach (bin/pach, lib/ with its libraries and lib/ld.so, the loader);
// the init container copies it to the emptyDir /pach-bin.
constexpr const char *kBundle = "/pach";
constexpr const char *kBin = "/pach-bin";
constexpr const char *kCache = "/pach-cache";

std::string cfg(const Store &s, const std::string &key, const std::string &dflt = "")
{
	return config_get(&s, key).value_or(dflt);
}

// The bundle's pach run through its own loader: no library of the image
// is used, so it runs in any image (glibc, musl, distroless).
std::vector<std::string> bundled_pach(const std::string &dir)
{
	return {dir + "/lib/ld.so", "--library-path", dir + "/lib", dir + "/bin/pach"};
}

// Label values: at most 63 of [A-Za-z0-9._-], alphanumeric at both ends.
std::string label_value(const std::string &s)
{
	std::string o;
	for (char c : s)
		if (isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.')
			o += c;
	if (o.size() > 63)
		o.resize(63);
	while (!o.empty() && !isalnum((unsigned char)o.back()))
		o.pop_back();
	while (!o.empty() && !isalnum((unsigned char)o.front()))
		o.erase(0, 1);
	return o;
}

// Quantities as Kubernetes spells them, from what parse_memory and
// parse_cpu accept: bytes, millicores.
std::string bytes_quantity(const std::string &v)
{
	return std::to_string(parse_memory(v));
}
std::string cpu_quantity(const std::string &v)
{
	return std::to_string((long long)std::ceil(parse_cpu(v) * 1000)) + "m";
}

// A small layer over yaml-cpp's emitter: every string double-quoted (a
// label "0123" or an env value "true" stays a string), numbers plain.
class Yaml {
public:
	Yaml() { e_.SetIndent(2); }
	Yaml &map()
	{
		e_ << YAML::BeginMap;
		return *this;
	}
	Yaml &seq()
	{
		e_ << YAML::BeginSeq;
		return *this;
	}
	Yaml &end_map()
	{
		e_ << YAML::EndMap;
		return *this;
	}
	Yaml &end_seq()
	{
		e_ << YAML::EndSeq;
		return *this;
	}
	Yaml &key(const char *k)
	{
		e_ << YAML::Key << k << YAML::Value;
		return *this;
	}
	Yaml &key(const std::string &k)
	{
		e_ << YAML::Key << YAML::DoubleQuoted << k << YAML::Value;
		return *this;
	}
	Yaml &str(const std::string &v)
	{
		e_ << YAML::DoubleQuoted << v;
		return *this;
	}
	Yaml &num(int64_t v)
	{
		e_ << v;
		return *this;
	}
	Yaml &boolean(bool v)
	{
		e_ << v;
		return *this;
	}
	Yaml &empty_map()
	{
		e_ << YAML::Flow << YAML::BeginMap << YAML::EndMap;
		return *this;
	}
	Yaml &kv(const char *k, const std::string &v) { return key(k).str(v); }
	Yaml &strings(const std::vector<std::string> &v)
	{
		seq();
		for (auto &s : v)
			str(s);
		return end_seq();
	}
	Yaml &labels(const std::map<std::string, std::string> &m)
	{
		map();
		for (auto &[k, v] : m)
			key(k).str(v);
		return end_map();
	}
	Yaml &doc()
	{
		e_ << YAML::BeginDoc;
		return *this;
	}
	std::string text() const { return std::string(e_.c_str()) + "\n"; }

private:
	YAML::Emitter e_;
};

// The S3 remote's path below file:// remotes: where the claim is mounted.
std::string file_remote_path(const std::string &url)
{
	return url.compare(0, 7, "file://") == 0 ? url.substr(7) : "";
}

} // namespace

std::string kube_name(const std::string &s, size_t max)
{
	std::string o;
	for (char c : s) {
		char l = (char)tolower((unsigned char)c);
		if (isalnum((unsigned char)l))
			o += l;
		else if (!o.empty() && o.back() != '-')
			o += '-';
	}
	if (o.size() > max)
		o.resize(max);
	while (!o.empty() && o.back() == '-')
		o.pop_back();
	return o.empty() ? "x" : o;
}

std::string kube_image(const std::string &ref)
{
	if (ref.empty())
		return kPachydermDefaultImage;
	for (const char *t : {"dir:", "docker-archive:", "oci-archive:", "oci:"})
		if (ref.compare(0, strlen(t), t) == 0)
			die("the kubernetes executor pulls images from a registry: transform.image '{}' is a file here "
			    "(push it to a registry the cluster reaches and name it by reference)",
			    ref);
	if (ref.compare(0, 9, "docker://") == 0)
		return ref.substr(9);
	return ref;
}

KubeEngine::KubeEngine(const Store &s, const PipelineSpec &spec, const remote::RemoteConfig &rc, remote::Backend &b)
	: s_(s), spec_(spec), rc_(rc), b_(b)
{
}

size_t KubeEngine::slots()
{
	return spec_.parallelism > 0 ? (size_t)spec_.parallelism : 0;
}

int KubeEngine::tries_per_submit() const
{
	return std::max(1, spec_.datum_tries);
}

std::string KubeEngine::job_name(size_t n) const
{
	return "pach-" + kube_name(spec_.name, 24) + "-" + key_.substr(0, 10) + "-" + std::to_string(n);
}

std::vector<std::string> KubeEngine::kubectl(std::vector<std::string> args) const
{
	std::vector<std::string> argv = {cfg(s_, "kubernetes.kubectl", "kubectl")};
	if (auto c = config_get(&s_, "kubernetes.context"))
		argv.push_back("--context=" + *c);
	if (auto n = config_get(&s_, "kubernetes.namespace"))
		argv.push_back("--namespace=" + *n);
	argv.insert(argv.end(), args.begin(), args.end());
	return argv;
}

std::string KubeEngine::manifests(const std::vector<size_t> &tasks, const std::string &name, bool redact) const
{
	std::string ns = cfg(s_, "kubernetes.namespace");
	std::map<std::string, std::string> labels = {{"app.kubernetes.io/managed-by", "pach"},
						     {"pach.io/pipeline", label_value(spec_.name)},
						     {"pach.io/job", key_.substr(0, 16)}};
	auto metadata = [&](Yaml &y, const std::string &n, bool job) {
		y.key("metadata").map().kv("name", n);
		if (!ns.empty())
			y.kv("namespace", ns);
		auto l = labels;
		if (!job)
			l.erase("pach.io/job");   // a remote's Secret serves every job
		y.key("labels").labels(l).end_map();
	};
	std::string out;
	std::string path = file_remote_path(rc_.url);
	std::string secret = cfg(s_, "kubernetes.secret");
	if (path.empty() && secret.empty()) {
		// The coordinator's own credentials, as a Secret of the remote.
		auto creds = remote::aws_settings().creds;
		if (!creds.access_key.empty()) {
			secret = "pach-remote-" + kube_name(rc_.name, 40);
			Yaml y;
			y.doc().map().kv("apiVersion", "v1").kv("kind", "Secret");
			metadata(y, secret, false);
			y.kv("type", "Opaque").key("stringData").map();
			auto value = [&](const std::string &v) { return redact ? std::string("REDACTED") : v; };
			y.kv("AWS_ACCESS_KEY_ID", value(creds.access_key)).kv("AWS_SECRET_ACCESS_KEY", value(creds.secret_key));
			if (!creds.session_token.empty())
				y.kv("AWS_SESSION_TOKEN", value(creds.session_token));
			y.end_map().end_map();
			out += y.text();
		}
	}
	std::string claim = cfg(s_, "kubernetes.claim");
	if (!path.empty() && claim.empty())
		die("the kubernetes executor reaches a file:// remote through a volume: set kubernetes.claim to a "
		    "PersistentVolumeClaim holding {} (mounted there in every pod)",
		    path);

	// The worker's command, in the user's container.
	std::vector<std::string> cmd = bundled_pach(kBin);
	cmd.insert(cmd.end(), {"worker", "--url", rc_.url});
	std::string endpoint = cfg(s_, "kubernetes.endpoint", rc_.endpoint);
	if (!endpoint.empty())
		cmd.insert(cmd.end(), {"--endpoint", endpoint});
	if (!rc_.region.empty())
		cmd.insert(cmd.end(), {"--region", rc_.region});
	if (rc_.path_style)
		cmd.push_back("--path-style");
	cmd.insert(cmd.end(), {"--key", key_, "--task-list", array_ranges(tasks), "--in-container", "--cache", kCache});
	std::vector<std::string> init = bundled_pach(kBundle);
	init.insert(init.end(), {"worker", "--install", kBundle, kBin});

	Yaml y;
	y.doc().map().kv("apiVersion", "batch/v1").kv("kind", "Job");
	metadata(y, name, true);
	y.key("spec").map();
	y.kv("completionMode", "Indexed").key("completions").num((int64_t)tasks.size());
	size_t p = spec_.parallelism > 0 ? std::min(tasks.size(), (size_t)spec_.parallelism) : tasks.size();
	y.key("parallelism").num((int64_t)p);
	// Kubernetes runs a failed index again, up to datum_tries in all.
	y.key("backoffLimitPerIndex").num(std::max(0, spec_.datum_tries - 1));
	double jt = parse_duration(spec_.job_timeout);
	if (jt > 0)
		y.key("activeDeadlineSeconds").num((int64_t)std::ceil(jt));
	y.key("ttlSecondsAfterFinished").num(atoll(cfg(s_, "kubernetes.ttlSeconds", "86400").c_str()));
	y.key("template").map();
	y.key("metadata").map().key("labels").labels(labels).end_map();
	y.key("spec").map().kv("restartPolicy", "Never");
	if (auto sa = config_get(&s_, "kubernetes.serviceAccount"))
		y.kv("serviceAccountName", *sa);
	if (auto ps = config_get(&s_, "kubernetes.imagePullSecret"))
		y.key("imagePullSecrets").seq().map().kv("name", *ps).end_map().end_seq();
	y.key("volumes").seq();
	for (const char *v : {"pach-bin", "pfs", "pach-cache"})
		y.map().kv("name", v).key("emptyDir").empty_map().end_map();
	if (!path.empty())
		y.map().kv("name", "remote").key("persistentVolumeClaim").map().kv("claimName", claim).end_map().end_map();
	y.end_seq();
	y.key("initContainers").seq().map().kv("name", "pach-init");
	y.kv("image", cfg(s_, "kubernetes.workerImage", std::string("pach-worker:") + kPachVersion));
	y.key("command").strings(init);
	y.key("volumeMounts").seq().map().kv("name", "pach-bin").kv("mountPath", kBin).end_map().end_seq();
	y.end_map().end_seq();

	y.key("containers").seq().map().kv("name", "user").kv("image", kube_image(image_));
	y.key("command").strings(cmd);
	if (!spec_.transform.working_dir.empty())
		y.kv("workingDir", spec_.transform.working_dir);
	y.key("env").seq().map().kv("name", "PACH_WORKER_CA_FILE").kv("value", std::string(kBin) + "/lib/ca-certificates.crt");
	y.end_map().end_seq();
	if (!secret.empty())
		y.key("envFrom").seq().map().key("secretRef").map().kv("name", secret).end_map().end_map().end_seq();
	// Requests and limits: memory and disk in bytes, cpu in millicores,
	// a gpu as the extended resource it names (limits only: Kubernetes
	// takes the request from the limit).
	auto resources = [&](const char *what, const PipelineSpec::Resources &r, bool gpu) {
		int64_t g = gpu ? std::max(spec_.limits.gpu, spec_.requests.gpu) : 0;
		std::string gt = !spec_.limits.gpu_type.empty() ? spec_.limits.gpu_type : spec_.requests.gpu_type;
		if (r.memory.empty() && r.cpu.empty() && r.disk.empty() && g == 0)
			return;
		y.key(what).map();
		if (!r.cpu.empty())
			y.kv("cpu", cpu_quantity(r.cpu));
		if (!r.disk.empty())
			y.kv("ephemeral-storage", bytes_quantity(r.disk));
		if (!r.memory.empty())
			y.kv("memory", bytes_quantity(r.memory));
		if (g > 0)
			y.key(gt).str(std::to_string(g));
		y.end_map();
	};
	PipelineSpec::Resources none;
	bool any = !spec_.limits.memory.empty() || !spec_.limits.cpu.empty() || !spec_.limits.disk.empty() ||
		   !spec_.requests.memory.empty() || !spec_.requests.cpu.empty() || !spec_.requests.disk.empty() ||
		   spec_.limits.gpu > 0 || spec_.requests.gpu > 0;
	if (any) {
		y.key("resources").map();
		resources("limits", spec_.limits.given ? spec_.limits : none, true);
		resources("requests", spec_.requests, false);
		y.end_map();
	}
	y.key("volumeMounts").seq();
	y.map().kv("name", "pach-bin").kv("mountPath", kBin).key("readOnly").boolean(true).end_map();
	y.map().kv("name", "pfs").kv("mountPath", "/pfs").end_map();
	y.map().kv("name", "pach-cache").kv("mountPath", kCache).end_map();
	if (!path.empty())
		y.map().kv("name", "remote").kv("mountPath", path).end_map();
	y.end_seq();
	y.end_map().end_seq();   // the user container
	y.end_map();             // the pod's spec
	y.end_map();             // template
	y.end_map();             // the job's spec
	y.end_map();
	return out + y.text();
}

std::string KubeEngine::describe(const std::vector<size_t> &tasks, size_t)
{
	std::vector<size_t> t = tasks;
	std::sort(t.begin(), t.end());
	return manifests(t, job_name(0), true);
}

void KubeEngine::save()
{
	std::string o;
	for (auto &s : subs_)
		o += "kubernetes " + s.name + " " + array_ranges(s.tasks) + "\n";
	b_.put("jobs/" + key_ + "/submitted", o);
}

void KubeEngine::submit(const std::vector<size_t> &tasks_in, size_t)
{
	std::vector<size_t> tasks = tasks_in;
	std::sort(tasks.begin(), tasks.end());
	std::string name = job_name(subs_.size());
	auto r = run_engine_cmd(s_, kubectl({"apply", "-f", "-"}), manifests(tasks, name, false));
	if (r.exit != 0)
		die("kubernetes: kubectl apply failed: {}", r.err.empty() ? "exit code " + std::to_string(r.exit) : r.err);
	subs_.push_back({name, tasks, 0, {}});
	save();
}

namespace {

// One line per Job of `kubectl get jobs -o jsonpath=...` below.
struct JobStatus {
	std::string completed, failed, conditions, failed_reason;
};

const char *const kJobsPath =
	"{range .items[*]}{.metadata.name}{\"|\"}{.status.completedIndexes}{\"|\"}{.status.failedIndexes}"
	"{\"|\"}{.status.conditions[?(@.status==\"True\")].type}{\"|\"}"
	"{.status.conditions[?(@.type==\"Failed\")].reason}{\"\\n\"}{end}";
// Per pod: its job, index, and how its containers are or ended.
const char *const kPodsPath =
	"{range .items[*]}{.metadata.labels.job-name}{\"|\"}"
	"{.metadata.annotations.batch\\.kubernetes\\.io/job-completion-index}{\"|\"}"
	"{.status.initContainerStatuses[*].state.waiting.reason}{\"|\"}"
	"{.status.containerStatuses[*].state.waiting.reason}{\"|\"}"
	"{.status.containerStatuses[*].state.terminated.reason}{\"|\"}"
	"{.status.containerStatuses[*].state.terminated.exitCode}{\"|\"}"
	"{.status.initContainerStatuses[*].state.terminated.reason}{\"\\n\"}{end}";

std::vector<std::string> split_bar(const std::string &l)
{
	std::vector<std::string> f;
	std::istringstream in(l);
	for (std::string x; std::getline(in, x, '|');)
		f.push_back(x.size() > 4096 ? x.substr(0, 4096) : x);
	if (!l.empty() && l.back() == '|')
		f.push_back("");
	return f;
}

bool has_word(const std::string &list, const std::string &w)
{
	std::istringstream in(list);
	for (std::string x; in >> x;)
		if (x == w)
			return true;
	return false;
}

// A pod that can never start: nothing will come of waiting.
bool stuck(const std::string &reason)
{
	for (const char *r : {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
			      "CreateContainerError", "ErrImageNeverPull"})
		if (has_word(reason, r))
			return true;
	return false;
}

} // namespace

std::set<size_t> KubeEngine::resume()
{
	std::set<size_t> running;
	auto o = b_.get("jobs/" + key_ + "/submitted", 1 << 20);
	if (!o)
		return running;
	std::istringstream in(o->data);
	for (std::string kw, name, ranges; in >> kw >> name >> ranges;) {
		auto tasks = parse_ranges(ranges, 1u << 24);
		if (kw != "kubernetes" || name.size() > 63 || name != kube_name(name, 63) || !tasks)
			continue;   // not ours to understand: submit anew
		subs_.push_back({name, *tasks, 0, {}});
	}
	if (subs_.empty())
		return running;
	auto r = run_engine_cmd(s_, kubectl({"get", "jobs", "-l", "pach.io/job=" + key_.substr(0, 16), "-o",
					     std::string("jsonpath=") + kJobsPath}));
	if (r.exit != 0)
		return running;   // nothing of it can be waited for
	std::istringstream q(r.out);
	for (std::string l; std::getline(q, l);) {
		auto f = split_bar(l);
		if (f.size() < 5)
			continue;
		for (auto &sub : subs_) {
			if (sub.name != f[0] || has_word(f[3], "Complete") || has_word(f[3], "Failed"))
				continue;
			auto done = parse_ranges(f[1], sub.tasks.size()).value_or(std::vector<size_t>{});
			auto failed = parse_ranges(f[2], sub.tasks.size()).value_or(std::vector<size_t>{});
			std::set<size_t> over(done.begin(), done.end());
			over.insert(failed.begin(), failed.end());
			for (size_t i = 0; i < sub.tasks.size(); i++)
				if (!over.count(i))
					running.insert(sub.tasks[i]);
		}
	}
	// Only submissions still running are watched.
	return running;
}

bool KubeEngine::poll(std::map<size_t, std::string> &ended)
{
	bool watching = false;
	for (auto &sub : subs_)
		watching = watching || sub.ended.size() < sub.tasks.size();
	if (!watching)
		return true;
	std::string sel = "pach.io/job=" + key_.substr(0, 16);
	auto r = run_engine_cmd(s_, kubectl({"get", "jobs", "-l", sel, "-o", std::string("jsonpath=") + kJobsPath}));
	if (r.exit != 0) {
		err_ = "kubectl get jobs failed: " + (r.err.empty() ? "exit code " + std::to_string(r.exit) : r.err);
		return false;
	}
	std::map<std::string, JobStatus> jobs;
	std::istringstream q(r.out);
	for (std::string l; std::getline(q, l);) {
		auto f = split_bar(l);
		if (f.size() >= 5)
			jobs[f[0]] = {f[1], f[2], f[3], f[4]};
	}
	auto pr = run_engine_cmd(s_, kubectl({"get", "pods", "-l", sel, "-o", std::string("jsonpath=") + kPodsPath}));
	// Per (job, index): the last word on how its pod went.
	std::map<std::pair<std::string, size_t>, std::string> pods;
	std::istringstream pq(pr.exit == 0 ? pr.out : "");
	for (std::string l; std::getline(pq, l);) {
		auto f = split_bar(l);
		if (f.size() < 7)
			continue;
		auto idx = parse_ranges(f[1], 1u << 24);
		if (!idx || idx->size() != 1)
			continue;
		std::string why;
		if (stuck(f[2]) || stuck(f[3]))
			why = "stuck: " + (stuck(f[2]) ? "the worker image: " + f[2] : "the pipeline's image: " + f[3]);
		else if (has_word(f[4], "OOMKilled"))
			why = "OOMKilled: over its memory limit";
		else if (!f[6].empty() && f[6] != "Completed")
			why = "the worker image's init container: " + f[6];
		else if (!f[4].empty() && f[4] != "Completed")
			why = f[4] + (f[5].empty() ? "" : ", exit code " + f[5]);
		if (!why.empty())
			pods[{f[0], idx->front()}] = why;
	}
	for (auto &sub : subs_) {
		if (sub.ended.size() == sub.tasks.size())
			continue;
		auto it = jobs.find(sub.name);
		std::map<size_t, std::string> now;   // index -> why it ended
		if (it == jobs.end()) {
			// Not listed: gone (deleted, or its TTL passed), or not
			// listed yet right after apply.  Give it a few polls.
			if (++sub.absent < 3)
				continue;
			for (size_t i = 0; i < sub.tasks.size(); i++)
				now[i] = "no longer known to Kubernetes";
		} else {
			sub.absent = 0;
			const JobStatus &js = it->second;
			size_t n = sub.tasks.size();
			for (size_t i : parse_ranges(js.completed, n).value_or(std::vector<size_t>{}))
				now[i] = "Kubernetes job " + sub.name + ": index " + std::to_string(i) + " completed";
			for (size_t i : parse_ranges(js.failed, n).value_or(std::vector<size_t>{})) {
				auto p = pods.find({sub.name, i});
				now[i] = "Kubernetes job " + sub.name + ": index " + std::to_string(i) + " failed" +
					 (p != pods.end() ? " (" + p->second + ")" : "");
			}
			bool over = has_word(js.conditions, "Failed") || has_word(js.conditions, "Complete");
			bool stuck_job = false;
			for (size_t i = 0; i < n; i++) {
				auto p = pods.find({sub.name, i});
				if (!now.count(i) && p != pods.end() && p->second.compare(0, 6, "stuck:") == 0) {
					now[i] = "Kubernetes job " + sub.name + ": index " + std::to_string(i) + " " + p->second;
					stuck_job = true;
				}
			}
			if (stuck_job) {
				// It would wait forever: every index not done ends with it.
				run_engine_cmd(s_, kubectl({"delete", "job", sub.name, "--ignore-not-found", "--wait=false"}));
				over = true;
			}
			if (over)
				for (size_t i = 0; i < n; i++)
					if (!now.count(i))
						now[i] = "Kubernetes job " + sub.name + " ended" +
							 (js.failed_reason.empty() ? "" : " (" + js.failed_reason + ")");
		}
		for (auto &[i, why] : now)
			if (sub.ended.insert(i).second)
				ended[sub.tasks[i]] = why;
	}
	return true;
}

std::string KubeEngine::cancel()
{
	if (subs_.empty())
		return "nothing was submitted";
	std::vector<std::string> args = {"delete", "job", "--ignore-not-found", "--wait=false"};
	std::string names;
	for (auto &s : subs_) {
		args.push_back(s.name);
		names += (names.empty() ? "" : ", ") + s.name;
	}
	auto r = run_engine_cmd(s_, kubectl(args));
	if (r.exit != 0)
		return "kubectl delete job " + names + " failed: " + r.err;
	return "deleted Kubernetes job" + std::string(subs_.size() > 1 ? "s " : " ") + names;
}

} // namespace pach::runner
