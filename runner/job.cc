#include "runner/job.h"
#include "plumbing/crash.h"

#include "plumbing/address.h"
#include "plumbing/checkout.h"
#include "plumbing/config.h"
#include "plumbing/error.h"
#include "plumbing/meta.h"
#include "plumbing/progress.h"
#include "plumbing/snapshot.h"
#include "plumbing/tree_edit.h"
#include "runner/image.h"
#include "runner/outlinks.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <string_view>
#include <unordered_map>
#include <mutex>
#include <thread>

namespace pach::runner {

namespace {

std::string new_job_id()
{
	static std::atomic<unsigned> n{0};
	Sha1 h;
	std::string seed = fmt::format("{}-{}-{}-{}", now_ns(), getpid(), n++, (uintptr_t)&seed);
	h.update(seed.data(), seed.size());
	return h.final().hex().substr(0, 32);
}

// The union of the datums' output trees.  Two datums writing one path
// fail the job, naming both.
Oid merge_outputs(Store &s, ObjectWriter &w, const std::vector<std::pair<std::string, Oid>> &trees)
{
	struct Dir {
		std::map<std::string, TreeEntry> files;
		std::map<std::string, Dir> dirs;
	};
	Dir root;
	std::map<std::string, std::string> owner; // path -> datum id
	for (auto &dt : trees) {
		const auto &datum = dt.first;   // named, not bound: lambdas capture it (clang 14)
		const auto &tree = dt.second;
		std::function<void(const Oid &, Dir &, const std::string &, int)> add = [&](const Oid &t, Dir &d,
											 const std::string &prefix, int depth) {
			if (depth >= kMaxTreeDepth)
				die("datum {} writes '{}', nested more than {} directories deep", datum.substr(0, 12), prefix,
				    kMaxTreeDepth);
			for (auto &e : w.read_tree(t)) {
				std::string p = prefix + "/" + e.name;
				if (e.is_dir()) {
					if (d.files.count(e.name))
						die("datums {} and {} both write '{}'", owner[p], datum, p);
					owner.emplace(p, datum);
					add(e.oid, d.dirs[e.name], p, depth + 1);
					continue;
				}
				auto it = owner.find(p);
				if (it != owner.end() && it->second != datum)
					die("datums {} and {} both write '{}'", it->second.substr(0, 12), datum.substr(0, 12), p);
				if (d.dirs.count(e.name))
					die("datums {} and {} both write '{}'", owner[p].substr(0, 12), datum.substr(0, 12), p);
				owner[p] = datum;
				d.files[e.name] = e;
			}
		};
		add(tree, root, "", 0);
	}
	std::function<Oid(const Dir &)> build = [&](const Dir &d) {
		std::vector<TreeEntry> v;
		for (auto &[n, e] : d.files)
			v.push_back(e);
		for (auto &[n, sub] : d.dirs)
			v.push_back({n, kModeDir, build(sub)});
		sort_tree(v);
		return w.tree(v);
	};
	return build(root);
}

// The same union, built from the previous output by taking out what
// changed datums wrote before and putting in what they write now: the
// cost follows the change.  Returns nullopt whenever anything is not as
// expected (a path clash, a file another datum owns), so the caller can
// fall back to the full merge and its exact error.
std::optional<Oid> merge_incremental(Store &s, ObjectWriter &w, const Oid &base, const std::vector<Oid> &removed,
				     const std::vector<Oid> &added)
{
	(void)s;
	std::vector<TreeEdit> edits;
	std::function<void(const Oid &, std::vector<std::string> &, bool)> rec = [&](const Oid &x,
										   std::vector<std::string> &path,
										   bool remove) {
		if (path.size() >= (size_t)kMaxTreeDepth)
			die("a datum's output is nested more than {} directories deep", kMaxTreeDepth);
		for (auto &e : w.read_tree(x)) {
			path.push_back(e.name);
			if (e.is_dir())
				rec(e.oid, path, remove);
			else
				edits.push_back({path, e, remove});
			path.pop_back();
		}
	};
	std::vector<std::string> p;
	for (auto &t : removed)
		rec(t, p, true);
	for (auto &t : added)
		rec(t, p, false);
	return apply_edits(w, base, std::move(edits));
}

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

// pach.runtime from the store's or the user's config, checked.
std::string configured_runtime(const Store &s)
{
	auto v = config_get(&s, "pach.runtime");
	if (v && !known_runtime(*v))
		die("config pach.runtime: unknown runtime '{}' (expected local, bwrap, runc, crun, podman or docker)", *v);
	return v.value_or("");
}

} // namespace

std::string pipeline_image(const Store &s, const PipelineSpec &spec)
{
	if (!spec.transform.image.empty())
		return spec.transform.image;
	return config_get(&s, "pach.defaultImage").value_or("");
}

std::string pipeline_runtime(const Store &s, const PipelineSpec &spec, const std::string &image,
			     const std::string &override_name)
{
	std::string asked = !override_name.empty() ? override_name : spec.runtime;
	if (image.empty()) {
		// Pachyderm runs such a spec in its default user image; with no
		// image configured here it runs on the host.
		if (!asked.empty() && asked != "local")
			die("pipeline '{}' has no transform.image (Pachyderm would run {}): runtime '{}' needs one; set "
			    "pach.defaultImage, or run it with --runtime local",
			    spec.name, kPachydermDefaultImage, asked);
		return "local";
	}
	return runtime_name(override_name, spec.runtime, image, configured_runtime(s));
}

namespace {

void rm_rf(const std::string &p)
{
	std::error_code ec;
	std::filesystem::remove_all(p, ec);
}

} // namespace

JobRecord run_pipeline(Store &s, const PipelineSpec &spec, const std::string &salt, const RunOptions &o)
{
	JobRecord job;
	job.id = new_job_id();
	job.pipeline = spec.name;
	job.salt = salt;
	job.started = time(nullptr);
	if (auto m = s.ref(kMetaRef))
		job.spec_version = m->hex();
	auto commits = resolve_inputs(s, spec);
	for (auto &[k, v] : commits)
		job.inputs.push_back({k, v ? v->hex() : "-"});
	// An input repo that is gone is not an empty input: the job fails
	// rather than commit an output of nothing.
	std::string gone;
	for (auto &[name, repo] : input_repos(spec))
		if (!repo_exists(s, repo))
			gone += (gone.empty() ? "" : ", ") + ("'" + repo + "'");
	auto datums = gone.empty() ? compute_datums(s, spec.input, commits) : std::vector<Datum>{};
	trace_point("datums computed");

	// The image is part of the transform: its digest salts every datum,
	// whichever runtime runs them (a dry run with another runtime agrees).
	std::string image_ref = pipeline_image(s, spec);
	std::string rt_name = pipeline_runtime(s, spec, image_ref, o.runtime);
	std::optional<Image> image;
	std::string digest;
	if (rt_name != "local") {
		image = resolve_image(s, image_ref, false, rt_name);
		digest = image->digest;
	} else if (!image_ref.empty()) {
		try {
			digest = resolve_image(s, image_ref, false, "").digest;
		} catch (const Error &) {
			digest = image_ref;   // a named image with no engine here to ask
		}
	}
	std::string dsalt = salt + digest;

	// Datums whose hash succeeded last time are reused, not run.
	auto prev = last_job(s, spec.name, false);
	// hash -> index in prev->datums, open addressing over the hashes'
	// first 16 hex digits (they are uniform already).
	auto key_of = [](const std::string &h) {
		uint64_t v = 0;
		memcpy(&v, h.data(), std::min<size_t>(8, h.size()));
		return v * 0x9E3779B97F4A7C15ull;
	};
	size_t nslots = 16;
	while (prev && nslots < prev->datums.size() * 2)
		nslots *= 2;
	std::vector<std::pair<uint64_t, uint32_t>> slots(nslots, {0, UINT32_MAX});
	auto slot_of = [&](const std::string &h, bool insert, uint32_t k) -> long {
		uint64_t key = key_of(h);
		for (size_t i = (size_t)(key >> 20) & (nslots - 1);; i = (i + 1) & (nslots - 1)) {
			auto &sl = slots[i];
			if (sl.second == UINT32_MAX) {
				if (insert)
					sl = {key, k};
				return -1;
			}
			if (sl.first == key && prev->datums[sl.second].hash == h)
				return sl.second;
		}
	};
	if (prev)
		for (size_t k = 0; k < prev->datums.size(); k++) {
			auto &d = prev->datums[k];
			if (d.state == "success" || d.state == "skipped" || d.state == "recovered")
				slot_of(d.hash, true, (uint32_t)k);
		}
	trace_point("previous job loaded");
	bool may_skip = !o.reprocess && spec.reprocess_spec != "every_job";
	std::vector<size_t> to_run;
	std::vector<long> from_prev(datums.size(), -1);
	job.datums.resize(datums.size());
	for (size_t i = 0; i < datums.size(); i++) {
		DatumRecord &r = job.datums[i];
		r.id = datums[i].id();
		r.hash = datums[i].hash(r.id, dsalt);
		long k = may_skip && prev ? slot_of(r.hash, false, 0) : -1;
		if (k >= 0) {
			const DatumRecord &p = prev->datums[(size_t)k];
			r.state = "skipped";
			r.out_tree = p.out_tree;
			r.log = p.log;
			from_prev[i] = k;
		} else {
			for (auto &f : datums[i].files)
				r.files.push_back(f.input + ":" + f.path);
			r.state = o.dry_run ? "would-run" : "pending";
			to_run.push_back(i);
		}
	}
	trace_point("datums hashed");
	std::string out_ref = branch_ref(spec.name, spec.output_branch);
	auto head = s.ref(out_ref);
	// Nothing changed since the last successful job: every datum matched
	// a distinct one of it (hashes include the id), as many as it had.
	if (to_run.empty() && prev && prev->state == "success" && prev->datums.size() == job.datums.size() &&
	    prev->output == head) {
		job.state = "up-to-date";
		job.output = head;
		return job;
	}
	if (o.dry_run) {
		job.state = "dry-run";
		return job;
	}

	auto lock = s.lock_shared();
	ObjectWriter w(s);
	std::string work = s.path("pach/work/" + job.id);
	mkdir_p(work);
	// Datums in parallel: -j (or run.jobs), the spec's constant, else
	// one per core.
	int parallel = o.jobs > 0 ? o.jobs : spec.parallelism > 0 ? spec.parallelism
								   : (int)std::max(1u, std::thread::hardware_concurrency());
	parallel = std::max(1, std::min<int>(parallel, (int)std::max<size_t>(1, to_run.size())));
	double datum_timeout = parse_duration(spec.datum_timeout);
	double job_timeout = parse_duration(spec.job_timeout);
	auto job_start = std::chrono::steady_clock::now();
	if (image)
		image = resolve_image(s, image_ref, true, rt_name);
	std::unique_ptr<Runtime> runtime = make_runtime(rt_name, image ? image->rootfs : "");
	Runtime *rt = runtime.get();
	if (rt->name() == "local" && !to_run.empty())
		warning(image_ref.empty() ? fmt::format("pipeline '{}' has no transform.image (Pachyderm would run {}): it "
							"runs on this host with the 'local' runtime, without isolation "
							"(set pach.defaultImage to run an image instead)",
							spec.name, kPachydermDefaultImage)
					  : "pipeline '" + spec.name + "' runs with the 'local' runtime: no isolation");
	if ((!spec.memory.empty() || !spec.cpu.empty()) && !rt->enforces_limits() && !to_run.empty())
		warning(fmt::format("pipeline '{}': resource_limits are not enforced by the '{}' runtime (runc, crun, "
				    "podman and docker enforce them)",
				    spec.name, rt->name()));
	std::string user = !spec.transform.user.empty() ? spec.transform.user : image ? image->user : "";
	if (!user.empty() && rt_name != "podman" && rt_name != "docker")
		resolve_user(user, rt_name == "local" ? "/" : image->rootfs); // fails before any datum runs
	// Lazy inputs: the store mounted read-only for the job (a child
	// `pach mount`), each lazy path bind-mounted into its datum.
	LazyMount lazy;
	bool want_lazy = false;
	for (size_t i : to_run)
		for (auto &f : datums[i].files)
			want_lazy = want_lazy || (f.lazy && !f.empty_files);
	if (want_lazy) {
		if (geteuid() != 0)
			warning("pipeline '" + spec.name + "': lazy inputs need root here (bind mounts); copying them instead");
		else
			lazy.start(s, work + "/lazy");
	}
	Progress prog("Processing datums", to_run.size());
	std::atomic<size_t> next{0};
	std::exception_ptr err;
	std::mutex mu;
	auto worker = [&](int slot) {
		try {
			for (;;) {
				size_t k = next++;
				if (k >= to_run.size() || err)
					return;
				size_t i = to_run[k];
				DatumRecord &r = job.datums[i];
				const Datum &d = datums[i];
				std::string dir = work + "/" + r.id.substr(0, 16);
				std::string pfs = dir + "/pfs", out = pfs + "/out", logf = dir + "/log";
				mkdir_p(out);
				ProcessSpec ps;
				ps.argv = spec.transform.cmd;
				ps.stdin_lines = spec.transform.stdin_lines;
				if (image)
					for (auto &kv : image->env) {
						auto eq = kv.find('=');
						if (eq != std::string::npos)
							ps.env[kv.substr(0, eq)] = kv.substr(eq + 1);
					}
				for (auto &[k, v] : spec.transform.env)
					ps.env[k] = v;
				ps.env["PACH_JOB_ID"] = job.id;
				// In Pachyderm 2 a job's output commit has the job's id;
				// pach's output commit is made at the end and records it.
				ps.env["PACH_OUTPUT_COMMIT_ID"] = job.id;
				ps.env["PACH_DATUM_ID"] = r.id;
				ps.env["PPS_PIPELINE_NAME"] = spec.name;
				ps.env["PFS"] = pfs;
				std::vector<std::string> binds;
				struct Unbind {
					std::vector<std::string> &b;
					~Unbind()
					{
						for (auto it = b.rbegin(); it != b.rend(); ++it)
							umount2(it->c_str(), MNT_DETACH);
					}
				} unbind{binds};
				for (auto &f : d.files) {
					std::string rel = f.path == "/" ? "" : f.path;
					// Input names are repo names and tree paths are checked
					// names; still, nothing here follows a symlink a datum's
					// earlier file may have made.
					std::string target = pfs + "/" + f.input + rel;
					Fd pfs_fd(::open(pfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
					if (!pfs_fd)
						die_errno("unable to open '" + pfs + "'");
					if (f.lazy && !f.empty_files && lazy.active() && f.commit) {
						Fd parent = open_dir_beneath_or_die(pfs_fd.get(), dirname_of(f.input + rel),
										    kBeneathCreate, pfs);
						lazy.bind(f.repo, *f.commit, rel, f.entry.is_dir(), target);
						binds.push_back(target);
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
				ps.cwd = spec.transform.working_dir;
				if (ps.cwd.empty() && image)
					ps.cwd = image->working_dir;
				ps.pfs_dir = pfs;
				ps.log_path = logf;
				ps.network = spec.network;
				ps.memory_limit = (uint64_t)std::max<int64_t>(0, parse_memory(spec.memory));
				ps.cpu_limit = std::max(0.0, parse_cpu(spec.cpu));
				ps.user = user;
				if (image && (rt_name == "podman" || rt_name == "docker"))
					ps.image = image->name;
				ps.id = job.id.substr(0, 12) + "-" + r.id.substr(0, 12);
				auto t0 = std::chrono::steady_clock::now();
				bool ok = false;
				for (int attempt = 1; attempt <= spec.datum_tries && !ok; attempt++) {
					r.attempts = attempt;
					if (attempt > 1) {
						rm_rf(out);
						mkdir_p(out);
					}
					ps.timeout = datum_timeout;
					if (job_timeout > 0) {
						double left = job_timeout - std::chrono::duration<double>(
										    std::chrono::steady_clock::now() - job_start)
										    .count();
						if (left <= 0)
							break;
						ps.timeout = ps.timeout > 0 ? std::min(ps.timeout, left) : left;
					}
					auto res = rt->run(ps);
					bool accepted = res.exit_code == 0 ||
							(res.exit_code > 0 &&
							 std::find(spec.transform.accept_return_code.begin(),
								   spec.transform.accept_return_code.end(),
								   res.exit_code) != spec.transform.accept_return_code.end());
					ok = accepted && !res.timed_out;
					std::string note = res.timed_out ? "pach: datum timed out; killed\n"
							   : res.signal	 ? fmt::format("pach: killed by signal {}\n", res.signal)
							   : !accepted	 ? fmt::format("pach: exit code {}\n", res.exit_code)
									 : "";
					if (!note.empty()) {
						Fd lf(::open(logf.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
						if (lf)
							write_full(lf.get(), note.data(), note.size(), logf);
					}
				}
				bool recovered = false;
				if (!ok && !spec.transform.err_cmd.empty()) {
					// Pachyderm's err_cmd: exiting 0 marks the datum
					// recovered (no output, the job still succeeds).
					ProcessSpec es = ps;
					es.argv = spec.transform.err_cmd;
					es.stdin_lines = spec.transform.err_stdin;
					rm_rf(out);
					mkdir_p(out);
					recovered = rt->run(es).exit_code == 0;
				}
				r.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
				struct stat st;
				if (::stat(logf.c_str(), &st) == 0) {
					Fd lf(::open(logf.c_str(), O_RDONLY | O_CLOEXEC));
					r.log = w.blob_from_fd(lf.get(), (uint64_t)st.st_size, logf, slot);
				}
				if (recovered) {
					r.state = "recovered";
				} else if (ok) {
					StatCache none(dir + "/no-cache");
					auto e = snapshot(s, w, out, none, nullptr, 1);
					auto links = resolve_out_links(s, w, out, e ? std::optional<Oid>(e->oid) : std::nullopt, d,
								       image && is_dir(image->rootfs) ? image->rootfs : "", slot);
					if (links.error.empty()) {
						r.out_tree = links.tree;
						r.state = "success";
						crash_point("run-datum");
					} else {
						// Refused: the datum fails, its log says why.
						std::string note = "pach: " + links.error + "\n";
						Fd lf(::open(logf.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
						if (lf)
							write_full(lf.get(), note.data(), note.size(), logf);
						if (::stat(logf.c_str(), &st) == 0) {
							Fd rf(::open(logf.c_str(), O_RDONLY | O_CLOEXEC));
							r.log = w.blob_from_fd(rf.get(), (uint64_t)st.st_size, logf, slot);
						}
						r.state = "failed";
					}
				} else {
					r.state = "failed";
				}
				for (auto it = binds.rbegin(); it != binds.rend(); ++it)
					umount2(it->c_str(), MNT_DETACH);
				binds.clear();
				rm_rf(dir);
				prog.add(1);
			}
		} catch (...) {
			std::lock_guard<std::mutex> g(mu);
			if (!err)
				err = std::current_exception();
		}
	};
	std::vector<std::thread> ts;
	for (int t = 1; t < parallel; t++)
		ts.emplace_back(worker, t);
	worker(0);
	for (auto &t : ts)
		t.join();
	prog.done();
	trace_point("datums run");
	lazy.stop();   // before the work area goes: never walk into the mount
	rm_rf(work);
	if (err)
		std::rethrow_exception(err);

	if (!gone.empty()) {
		job.state = "failure";
		job.error = fmt::format("input repo {} does not exist (deleted?): recreate it, or update the pipeline", gone);
	} else if (job.count("failed")) {
		job.state = "failure";
		job.error = fmt::format("{} datum(s) failed", job.count("failed"));
	} else {
		std::vector<std::pair<std::string, Oid>> trees;
		for (auto &r : job.datums)
			if (r.out_tree)
				trees.push_back({r.id, *r.out_tree});
		try {
			// Few datums changed since a job whose output is still the
			// head: edit that output instead of rebuilding it.
			std::optional<Oid> tree;
			if (prev && prev->state == "success" && prev->output && prev->output == head) {
				std::vector<char> used(prev->datums.size());
				for (long k : from_prev)
					if (k >= 0)
						used[(size_t)k] = 1;
				std::vector<Oid> removed, added;
				for (size_t k = 0; k < prev->datums.size(); k++)
					if (!used[k] && prev->datums[k].out_tree)
						removed.push_back(*prev->datums[k].out_tree);
				for (size_t i : to_run)
					if (job.datums[i].out_tree)
						added.push_back(*job.datums[i].out_tree);
				trace_point("changed outputs found");
				if (removed.size() + added.size() <= 64)
					tree = merge_incremental(s, w, s.read_commit(*head).tree, removed, added);
				trace_point(tree ? "output edited" : "output edit refused");
			}
			if (!tree)
				tree = merge_outputs(s, w, trees);
			std::optional<Oid> parent_tree;
			if (head)
				parent_tree = s.read_commit(*head).tree;
			if (head && parent_tree == *tree) {
				job.output = head;
			} else {
				std::string msg = fmt::format("pach run: {} job {}\n\nJob: {}\nPipeline: {}\nPipeline-Version: {}\n",
							      spec.name, job.id, job.id, spec.name, job.spec_version);
				for (auto &[k, v] : job.inputs)
					msg += "Input: " + k + " " + v + "\n";
				std::vector<Oid> parents;
				if (head)
					parents.push_back(*head);
				Oid c = w.commit(*tree, parents, s.committer(), s.committer(), msg);
				w.finish();
				trace_point("output written");
				crash_point("run-output");   // output commit written, branch not moved
				if (!s.cas_ref(out_ref, c, head, "pach run: job " + job.id))
					die("output branch '{}' of '{}' moved during the job; run again", spec.output_branch,
					    spec.name);
				job.output = c;
			}
			job.state = "success";
		} catch (const Error &e) {
			job.state = "failure";
			job.error = e.what();
		}
	}
	w.finish();
	trace_point("output committed");
	job.finished = time(nullptr);
	std::string rec = format_job_header(job);
	// Shards of the record by the datum id's first two hex digits.  A
	// shard whose datums all come unchanged from the previous job, as many
	// as it had there, is that job's shard: same objects, nothing written.
	std::vector<std::vector<size_t>> shards(256);
	for (size_t i = 0; i < job.datums.size(); i++)
		shards[(size_t)std::stoi(job.datums[i].id.substr(0, 2), nullptr, 16)].push_back(i);
	std::vector<size_t> prev_count(256);
	bool prev_sharded = prev && !prev->datums.empty() && !prev->datums[0].line.empty();
	if (prev)
		for (auto &d : prev->datums)
			prev_count[(size_t)std::stoi(d.id.substr(0, 2), nullptr, 16)]++;
	update_meta(s, "pach run: " + spec.name + " job " + job.id,
		    [&](ObjectWriter &mw, const std::optional<Oid> &t) -> std::optional<Oid> {
			    // The previous job's shards, by name.
			    std::map<std::string, Oid> prev_datums, prev_outs, prev_logs;
			    if (prev_sharded && t)
				    if (auto pj = lookup_path(mw, *t, {"jobs", spec.name, prev->id}); pj && pj->is_dir())
					    for (auto &[name, m] : {std::pair{"datums", &prev_datums},
								    std::pair{"outputs", &prev_outs}, std::pair{"logs", &prev_logs}})
						    if (auto e = lookup_path(mw, pj->oid, {name}); e && e->is_dir())
							    for (auto &x : mw.read_tree(e->oid))
								    (*m)[x.name] = x.oid;
			    // The datums' output trees and logs are linked from the
			    // job, so gc keeps what a later job may reuse.
			    std::vector<TreeEntry> datum_shards, out_shards, log_shards;
			    for (size_t k = 0; k < 256; k++) {
				    auto &ids = shards[k];
				    if (ids.empty())
					    continue;
				    std::string name = fmt::format("{:02x}", k);
				    bool clean = prev_sharded && prev_datums.count(name) && ids.size() == prev_count[k] &&
						 std::all_of(ids.begin(), ids.end(), [&](size_t i) { return from_prev[i] >= 0; });
				    if (clean) {
					    datum_shards.push_back({name, kModeFile, prev_datums[name]});
					    if (prev_outs.count(name))
						    out_shards.push_back({name, kModeDir, prev_outs[name]});
					    if (prev_logs.count(name))
						    log_shards.push_back({name, kModeDir, prev_logs[name]});
					    continue;
				    }
				    std::sort(ids.begin(), ids.end(),
					      [&](size_t a, size_t b) { return job.datums[a].id < job.datums[b].id; });
				    std::string text;
				    std::vector<TreeEntry> outs, logs;
				    for (size_t i : ids) {
					    const DatumRecord &d = job.datums[i];
					    if (from_prev[i] < 0) {
						    text += format_datum(d, job.id);
					    } else {
						    const DatumRecord &p = prev->datums[(size_t)from_prev[i]];
						    if (!p.line.empty()) {
							    text += p.line;
						    } else {
							    // From an old single-blob record.
							    DatumRecord q = p;
							    if (q.state == "skipped")
								    q.state = "success";
							    text += format_datum(q, prev->id);
						    }
					    }
					    if (d.out_tree)
						    outs.push_back({d.id, kModeDir, *d.out_tree});
					    if (d.log)
						    logs.push_back({d.id, kModeFile, *d.log});
				    }
				    datum_shards.push_back({name, kModeFile, mw.blob(text.data(), text.size())});
				    if (!outs.empty())
					    out_shards.push_back({name, kModeDir, mw.tree(outs)});
				    if (!logs.empty())
					    log_shards.push_back({name, kModeDir, mw.tree(logs)});
			    }
			    std::vector<TreeEntry> dir = {{"record", kModeFile, mw.blob(rec.data(), rec.size())}};
			    for (auto &[name, v] : {std::pair{"datums", &datum_shards}, std::pair{"outputs", &out_shards},
						    std::pair{"logs", &log_shards}})
				    if (!v->empty())
					    dir.push_back({name, kModeDir, mw.tree(*v)});
			    sort_tree(dir);
			    Oid idb = mw.blob(job.id.data(), job.id.size());
			    Oid root = edit_tree(s, mw, t, {"jobs", spec.name, job.id}, TreeEntry{job.id, kModeDir, mw.tree(dir)});
			    return edit_tree(s, mw, root, {"pipelines", spec.name, "last_job"},
					     TreeEntry{"last_job", kModeFile, idb});
		    });
	trace_point("job recorded");
	return job;
}

} // namespace pach::runner
