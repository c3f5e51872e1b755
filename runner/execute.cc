// Running a job's datums: each in its own directory under the job's
// work area, its inputs checked out (or bind-mounted, lazy inputs) at
// /pfs/<input>, user code run by the runtime, its /pfs/out snapshotted.
#include "runner/steps.h"
#include "plumbing/crash.h"

#include "plumbing/checkout.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/parallel.h"
#include "plumbing/progress.h"
#include "plumbing/snapshot.h"
#include "plumbing/stat_cache.h"
#include "runner/batch.h"
#include "runner/outlinks.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <chrono>

namespace pach::runner {

// The store mounted read-only by a child `pach mount --foreground` for
// the length of a job, for lazy inputs.
class LazyMount {
public:
	~LazyMount() { stop(); }
	void start(Store &s, const std::string &dir)
	{
		dir_ = dir;
		mkdir_p(dir_);
		pid_ = fork();
		if (pid_ < 0)
			die_errno("unable to fork");
		if (pid_ == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);   // it goes when the run goes
			int null = ::open("/dev/null", O_RDWR);
			dup2(null, 0);
			dup2(null, 1);
			execl("/proc/self/exe", "pach", "-C", s.git_dir().c_str(), "mount", "--foreground", dir_.c_str(),
			      (char *)nullptr);
			_exit(127);
		}
		for (int i = 0; i < 200; i++) {
			struct stat a, b;
			if (::stat(dir_.c_str(), &a) == 0 && ::stat(dirname_of(dir_).c_str(), &b) == 0 && a.st_dev != b.st_dev)
				return;
			int st;
			if (waitpid(pid_, &st, WNOHANG) == pid_) {
				pid_ = -1;
				die("lazy inputs: unable to mount the store (pach mount failed)");
			}
			usleep(25000);
		}
		stop();
		die("lazy inputs: the store's mount did not come up");
	}
	bool active() const { return pid_ > 0; }
	void bind(const std::string &repo, const Oid &commit, const std::string &rel, bool dir, const std::string &target)
	{
		std::string src = dir_ + "/" + repo + "/@" + commit.hex() + rel;
		if (dir)
			mkdir_p(target);
		else
			Fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
		if (mount(src.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) < 0)
			die_errno("lazy input: unable to bind '" + src + "'");
	}
	void stop()
	{
		if (pid_ <= 0)
			return;
		umount2(dir_.c_str(), MNT_DETACH);
		kill(pid_, SIGTERM);
		int st;
		waitpid(pid_, &st, 0);
		pid_ = -1;
	}

private:
	std::string dir_;
	pid_t pid_ = -1;
};

namespace {

// Lazy inputs bind-mounted into one datum's directory, undone (in
// reverse) when it is done with, or on the way out of a throw.
class Binds {
public:
	~Binds() { release(); }
	void add(const std::string &target) { b_.push_back(target); }
	void release()
	{
		for (auto it = b_.rbegin(); it != b_.rend(); ++it)
			umount2(it->c_str(), MNT_DETACH);
		b_.clear();
	}

private:
	std::vector<std::string> b_;
};

// A slot's datum directory made ready: /pfs holds only empty directories,
// out and (with `inputs`, before a datum) none but the datum's inputs; no
// log.  `kept` is what the slot's last cleaning left (nullopt: not known,
// the first datum): before a datum, after a cleaning, only directories of
// other inputs go.  What cannot be emptied (user code made it
// unremovable) is moved aside whole: a datum never sees another's files.
void ready_datum_dir(const std::string &dir, const std::string &pfs, const std::set<std::string> *inputs,
		     std::optional<std::set<std::string>> &kept)
{
	if (inputs && kept) {
		for (auto it = kept->begin(); it != kept->end();)
			if (*it != "out" && !inputs->count(*it)) {
				remove_tree(pfs + "/" + *it);
				it = kept->erase(it);
			} else {
				++it;
			}
		return;
	}
	::unlink((dir + "/log").c_str());
	mkdir_p(dir);
	bool clean = true;
	std::set<std::string> now;
	for (auto &n : dir_names(pfs)) {
		std::string p = pfs + "/" + n;
		struct stat st;
		if ((n == "out" || !inputs || inputs->count(n)) && lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
			clean = empty_dir(p) && clean;
			if ((st.st_mode & 07777) != 0755)
				::chmod(p.c_str(), 0755);   // as mkdir made it, whatever user code did
			now.insert(n);
		} else {
			remove_tree(p);
			clean = clean && !path_exists(p);
		}
	}
	if (!clean) {
		static std::atomic<unsigned> n{0};
		std::string aside = dirname_of(dir) + "/stuck-" + std::to_string(getpid()) + "-" + std::to_string(n++);
		if (::rename(pfs.c_str(), aside.c_str()) < 0)
			die_errno("unable to clear '" + pfs + "' for the next datum");
		now.clear();
	}
	mkdir_p(pfs + "/out");
	now.insert("out");
	kept = std::move(now);
}

void append_log(const std::string &logf, const std::string &note)
{
	if (note.empty())
		return;
	Fd lf(::open(logf.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
	if (lf)
		write_full(lf.get(), note.data(), note.size(), logf);
}

// The datum's log as a blob, if it wrote one.
std::optional<Oid> log_blob(ObjectWriter &w, const std::string &logf, int slot)
{
	Fd lf(::open(logf.c_str(), O_RDONLY | O_CLOEXEC));
	struct stat st;
	if (!lf || fstat(lf.get(), &st) < 0)
		return std::nullopt;
	return w.blob_from_fd(lf.get(), (uint64_t)st.st_size, logf, slot);
}

void stop_batches(const DatumEnv &env)
{
	for (auto &b : env.batches)
		b.reset();
}

// The datum handed to its slot's batch process (started on the first
// datum, and again after a failure).  The FIFOs are in the slot's own
// directory; a container sees them at /tmp/pach-batch.
ProcessResult run_batched(const DatumEnv &env, ProcessSpec &ps, int slot, const std::string &dir)
{
	auto &b = env.batches[(size_t)slot];
	if (!b)
		b = std::make_unique<Batch>(*env.rt, dir + "/batch");
	bool here = env.rt->name() == "local" || env.rt->name() == "pod";
	ps.env["PACH_NEXT_DATUM"] = here ? b->dir() : "/tmp/pach-batch";
	if (!here)
		ps.binds = {{b->dir(), "/tmp/pach-batch"}};
	std::string msg;
	return b->run(ps, ps.env, ps.timeout, msg);
}

} // namespace

void run_datum(Store &s, ObjectWriter &w, const DatumEnv &env, const Datum &d, DatumRecord &r, int slot)
{
	// One directory per slot, kept from datum to datum: making and
	// removing /pfs's directories cost more than a small datum's own work.
	std::string dir = env.work + "/slot-" + std::to_string(slot);
	std::string pfs = env.pfs_dir.empty() ? dir + "/pfs" : env.pfs_dir, out = pfs + "/out", logf = dir + "/log";
	std::set<std::string> inputs;
	for (auto &f : d.files)
		inputs.insert(f.input);
	auto &kept = env.slot_dirs[(size_t)slot];
	ready_datum_dir(dir, pfs, &inputs, kept);
	ProcessSpec ps;
	ps.argv = env.spec.transform.cmd;
	ps.stdin_lines = env.spec.transform.stdin_lines;
	if (env.image)
		for (auto &kv : env.image->env) {
			auto eq = kv.find('=');
			if (eq != std::string::npos)
				ps.env[kv.substr(0, eq)] = kv.substr(eq + 1);
		}
	for (auto &[k, v] : env.spec.transform.env)
		ps.env[k] = v;
	ps.env["PACH_JOB_ID"] = env.job_id;
	// In Pachyderm 2 a job's output commit has the job's id;
	// pach's output commit is made at the end and records it.
	ps.env["PACH_OUTPUT_COMMIT_ID"] = env.job_id;
	ps.env["PACH_DATUM_ID"] = r.id;
	ps.env["PPS_PIPELINE_NAME"] = env.spec.name;
	ps.env["PFS"] = pfs;
	Binds binds;
	for (auto &f : d.files) {
		std::string rel = f.path == "/" ? "" : f.path;
		// Input names are repo names and tree paths are checked
		// names; still, nothing here follows a symlink a datum's
		// earlier file may have made.
		std::string target = pfs + "/" + f.input + rel;
		Fd pfs_fd(::open(pfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		if (!pfs_fd)
			die_errno("unable to open '" + pfs + "'");
		if (f.lazy && !f.empty_files && env.lazy->active() && f.commit) {
			Fd parent = open_dir_beneath_or_die(pfs_fd.get(), dirname_of(f.input + rel),
							    kBeneathCreate, pfs);
			env.lazy->bind(f.repo, *f.commit, rel, f.entry.is_dir(), target);
			binds.add(target);
		} else {
			checkout_at(s, f.entry, pfs_fd.get(), f.input + rel, pfs, nullptr, f.empty_files);
		}
		ps.env[f.input] = "/pfs/" + f.input + rel;
		if (f.commit)
			ps.env[f.input + "_COMMIT"] = f.commit->hex();
		if (f.has_join_on)
			ps.env["PACH_DATUM_" + f.input + "_JOIN_ON"] = f.join_key;
		if (f.has_group_by)
			ps.env["PACH_DATUM_" + f.input + "_GROUP_BY"] = f.group_key;
	}
	ps.cwd = env.spec.transform.working_dir;
	if (ps.cwd.empty() && env.image)
		ps.cwd = env.image->working_dir;
	ps.pfs_dir = pfs;
	ps.log_path = logf;
	ps.network = env.spec.network;
	ps.memory_limit = (uint64_t)std::max<int64_t>(0, parse_memory(env.spec.memory));
	ps.cpu_limit = std::max(0.0, parse_cpu(env.spec.cpu));
	ps.user = env.user;
	if (env.image && (env.runtime == "podman" || env.runtime == "docker"))
		ps.image = env.image->name;
	ps.id = env.job_id.substr(0, 12) + "-" + r.id.substr(0, 12);
	auto t0 = std::chrono::steady_clock::now();
	bool ok = false;
	for (int attempt = 1; attempt <= env.spec.datum_tries && !ok; attempt++) {
		r.attempts = attempt;
		if (attempt > 1) {
			remove_tree(out);
			mkdir_p(out);
		}
		ps.timeout = env.datum_timeout;
		if (env.job_timeout > 0) {
			double left = env.job_timeout - std::chrono::duration<double>(
							    std::chrono::steady_clock::now() - env.job_start)
							    .count();
			if (left <= 0)
				break;
			ps.timeout = ps.timeout > 0 ? std::min(ps.timeout, left) : left;
		}
		auto res = env.spec.transform.datum_batching ? run_batched(env, ps, slot, dir) : env.rt->run(ps);
		bool accepted = res.exit_code == 0 ||
				(res.exit_code > 0 &&
				 std::find(env.spec.transform.accept_return_code.begin(),
					   env.spec.transform.accept_return_code.end(),
					   res.exit_code) != env.spec.transform.accept_return_code.end());
		ok = accepted && !res.timed_out;
		std::string note = !res.error.empty() ? "pach: " + res.error + "\n"
				   : res.timed_out ? "pach: datum timed out; killed\n"
				   : res.signal	 ? fmt::format("pach: killed by signal {}\n", res.signal)
				   : !accepted	 ? fmt::format("pach: exit code {}\n", res.exit_code)
						 : "";
		append_log(logf, note);
	}
	bool recovered = false;
	if (!ok && !env.spec.transform.err_cmd.empty()) {
		// Pachyderm's err_cmd: exiting 0 marks the datum
		// recovered (no output, the job still succeeds).
		ProcessSpec es = ps;
		es.argv = env.spec.transform.err_cmd;
		es.stdin_lines = env.spec.transform.err_stdin;
		remove_tree(out);
		mkdir_p(out);
		recovered = env.rt->run(es).exit_code == 0;
	}
	r.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	r.log = log_blob(w, logf, slot);
	if (recovered) {
		r.state = DatumState::recovered;
	} else if (ok) {
		StatCacheStream none("");   // no cache: everything is new
		SnapshotStats st;
		auto e = snapshot(s, w, out, none, &st, 1);
		OutLinks links;
		links.tree = e ? std::optional<Oid>(e->oid) : std::nullopt;
		if (st.links)   // else there is nothing to resolve: no second walk
			links = resolve_out_links(s, w, out, links.tree, d,
						  env.image && is_dir(env.image->rootfs) ? env.image->rootfs : "", slot);
		if (links.error.empty()) {
			r.out_tree = links.tree;
			r.state = DatumState::success;
			crash_point("run-datum");
		} else {
			// Refused: the datum fails, its log says why.
			append_log(logf, "pach: " + links.error + "\n");
			r.log = log_blob(w, logf, slot);
			r.state = DatumState::failed;
		}
	} else {
		r.state = DatumState::failed;
	}
	binds.release();   // before the directory is emptied: never walk into the store's mount
	ready_datum_dir(dir, pfs, nullptr, kept);
}

void run_datums(Store &s, ObjectWriter &w, const JobPlan &plan, JobRecord &job, const RunOptions &o)
{
	const PipelineSpec &spec = plan.spec;
	DatumEnv env(spec);
	env.job_id = job.id;
	env.work = !o.work_dir.empty() ? o.work_dir : s.path("pach/work/" + job.id);
	env.runtime = plan.runtime;
	env.pfs_dir = o.pfs_dir;
	mkdir_p(env.work);
	// Datums in parallel: -j (or run.jobs), the spec's constant, else
	// one per core; one at a time where each is laid out at /pfs itself.
	int parallel = o.jobs > 0 ? o.jobs : spec.parallelism > 0 ? spec.parallelism : cpu_workers(1 << 16);
	if (!o.pfs_dir.empty())
		parallel = 1;
	env.slot_dirs.resize((size_t)std::max(1, parallel));
	env.batches.resize((size_t)std::max(1, parallel));
	env.datum_timeout = parse_duration(spec.datum_timeout);
	env.job_timeout = parse_duration(spec.job_timeout);
	env.job_start = std::chrono::steady_clock::now();
	if (plan.image)
		env.image = resolve_image(s, plan.image_ref, true, plan.runtime, &*plan.image);
	std::unique_ptr<Runtime> runtime = make_runtime(plan.runtime, env.image ? env.image->rootfs : "");
	env.rt = runtime.get();
	if (env.rt->name() == "local" && !plan.to_run.empty())
		warning(plan.image_ref.empty()
				? fmt::format("pipeline '{}' has no transform.image (Pachyderm would run {}): it runs on "
					      "this host with the 'local' runtime, without isolation (set "
					      "pach.defaultImage to run an image instead)",
					      spec.name, kPachydermDefaultImage)
				: "pipeline '" + spec.name + "' runs with the 'local' runtime: no isolation");
	if ((!spec.memory.empty() || !spec.cpu.empty()) && !env.rt->enforces_limits() && !plan.to_run.empty())
		warning(fmt::format("pipeline '{}': resource_limits are not enforced by the '{}' runtime (runc, crun, "
				    "podman and docker enforce them)",
				    spec.name, env.rt->name()));
	env.user = !spec.transform.user.empty() ? spec.transform.user : env.image ? env.image->user : "";
	if (!env.user.empty() && plan.runtime != "podman" && plan.runtime != "docker")
		resolve_user(env.user, plan.runtime == "local" ? "/" : env.image->rootfs); // fails before any datum runs
	// Lazy inputs: the store mounted read-only for the job (a child
	// `pach mount`), each lazy path bind-mounted into its datum.
	LazyMount lazy;
	env.lazy = &lazy;
	bool want_lazy = false;
	for (size_t i : plan.to_run)
		for (auto &f : plan.datums[i].files)
			want_lazy = want_lazy || (f.lazy && !f.empty_files);
	if (want_lazy) {
		if (geteuid() != 0)
			warning("pipeline '" + spec.name + "': lazy inputs need root here (bind mounts); copying them instead");
		else
			lazy.start(s, env.work + "/lazy");
	}
	Progress prog("Processing datums", plan.to_run.size());
	try {
		parallel_for(plan.to_run.size(), parallel, [&](size_t k, int slot) {
			size_t i = plan.to_run[k];
			run_datum(s, w, env, plan.datums[i], job.datums[i], slot);
			prog.add(1);
		});
	} catch (...) {
		stop_batches(env);
		lazy.stop();
		remove_tree(env.work);
		throw;
	}
	stop_batches(env);
	prog.done();
	trace_point("datums run");
	lazy.stop();   // before the work area goes: never walk into the mount
	remove_tree(env.work);
}

} // namespace pach::runner
