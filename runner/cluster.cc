#include "runner/cluster.h"

#include "plumbing/address.h"
#include "plumbing/config.h"
#include "plumbing/pack_copy.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/progress.h"
#include "plumbing/quote.h"
#include "remote/download.h"
#include "remote/remotes.h"
#include "remote/sync.h"
#include "runner/manifest.h"
#include "runner/engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <thread>

namespace pach::runner {

namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_interrupt(int)
{
	g_interrupted = 1;
}

// SIGINT/SIGTERM noted instead of killing pach while tasks are out, so
// that they can be cancelled; the old handlers come back after.
class InterruptGuard {
public:
	InterruptGuard()
	{
		g_interrupted = 0;
		struct sigaction sa {};
		sa.sa_handler = on_interrupt;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int_);
		sigaction(SIGTERM, &sa, &old_term_);
	}
	~InterruptGuard()
	{
		sigaction(SIGINT, &old_int_, nullptr);
		sigaction(SIGTERM, &old_term_, nullptr);
	}

private:
	struct sigaction old_int_ {}, old_term_ {};
};

// `tree` and everything below it not yet in `seen`, added to it (a tree
// already there is not walked again); on_file sees each new file.
void add_below(const Store &s, const Oid &tree, std::set<Oid> &seen,
	       const std::function<void(const Oid &)> &on_file = nullptr)
{
	std::vector<Oid> stack{tree};
	while (!stack.empty()) {
		Oid t = stack.back();
		stack.pop_back();
		if (!seen.insert(t).second)
			continue;
		for (auto &e : s.read_tree(t)) {
			if (e.is_dir())
				stack.push_back(e.oid);
			else if (e.mode != kModeGitlink && seen.insert(e.oid).second && on_file)
				on_file(e.oid);
		}
	}
}

// Every object a datum reads (its entries and all below them); with
// `bytes`, the sizes of its files too (only datum_set_spec.size_bytes
// needs them: each costs opening the object).
void datum_objects(const Store &s, const Datum &d, std::set<Oid> &objs, uint64_t *bytes)
{
	auto size = [&](const Oid &o) {
		if (bytes)
			if (auto r = s.odb().open(o))
				*bytes += r->size();
	};
	for (auto &f : d.files) {
		if (f.entry.mode == kModeGitlink)
			continue;
		if (f.entry.is_dir())
			add_below(s, f.entry.oid, objs, size);
		else if (objs.insert(f.entry.oid).second && !f.empty_files)
			size(f.entry.oid);
	}
}

std::string cfg(const Store &s, const std::string &key, const std::string &dflt = "")
{
	return config_get(&s, key).value_or(dflt);
}

// Image references that are paths become absolute: a node resolves them
// in its own file system (a shared one).
std::string node_image_ref(const std::string &ref)
{
	for (const char *t : {"dir:", "docker-archive:", "oci-archive:", "oci:"}) {
		std::string p = t;
		if (ref.compare(0, p.size(), p) == 0 && ref.size() > p.size() && ref[p.size()] != '/')
			return p + absolute_path(ref.substr(p.size()));
	}
	return ref;
}

} // namespace

std::string pipeline_executor(const Store &s, const PipelineSpec &spec, const std::string &override_name)
{
	std::string e = !override_name.empty() ? override_name
			: !spec.executor.empty()  ? spec.executor
						  : cfg(s, "run.executor", "local");
	if (e != "local" && e != "slurm" && e != "kubernetes")
		die("unknown executor '{}' (expected local, slurm or kubernetes)", e);
	return e;
}

namespace {

// One job on a cluster: the steps of run_datums_on_cluster, sharing the
// plan, the remote and what is known of each task.
class ClusterJob {
public:
	ClusterJob(Store &s, ObjectWriter *w, const JobPlan &plan, JobRecord &job, const RunOptions &o)
		: s_(s), w_(w), plan_(plan), spec_(plan.spec), job_(job), o_(o),
		  rc_(remote::remote_pick(s, !o.remote.empty() ? o.remote : cfg(s, "run.remote"))),
		  b_(remote::open_backend(rc_)), executor_(pipeline_executor(s, spec_, o.executor)),
		  engine_(make_engine(executor_, s, spec_, rc_, *b_))
	{
	}
	void make_tasks();
	void make_key();
	void write_job();
	void run();
	// --dry-run: what would be submitted.
	std::string describe();

private:
	void upload_inputs();
	void collect();
	void collect_one(size_t t);
	void give_up(size_t t);
	void submit(const std::vector<size_t> &ts);
	std::string key(const std::string &rest) const { return pre_ + rest; }

	Store &s_;
	ObjectWriter *w_;   // null for a dry run
	const JobPlan &plan_;
	const PipelineSpec &spec_;
	JobRecord &job_;
	const RunOptions &o_;
	remote::RemoteConfig rc_;
	std::unique_ptr<remote::Backend> b_;
	std::string executor_;
	std::unique_ptr<Engine> engine_;
	std::vector<std::vector<size_t>> groups_;   // per task: indices into plan.to_run
	std::vector<std::string> task_texts_;
	std::set<Oid> objects_;                     // every object the tasks read
	JobManifest m_;
	std::string pre_;                           // jobs/<key>/
	std::vector<int> tries_;
	std::vector<bool> done_;
	std::vector<std::string> lost_;             // why a task ended without a result
	size_t n_done_ = 0;
	std::unique_ptr<Progress> prog_;
};

// Tasks: consecutive datums, as datum_set_spec asks, else 2 per task slot
// (parallelism_spec's, else what the partition holds at once, else 64
// tasks): few enough that starting a task is small beside running it,
// enough to balance uneven datums.
void ClusterJob::make_tasks()
{
	size_t n = plan_.to_run.size();
	std::vector<std::set<Oid>> objs(n);
	std::vector<uint64_t> sizes(n);
	for (size_t k = 0; k < n; k++)
		datum_objects(s_, plan_.datums[plan_.to_run[k]], objs[k],
			      spec_.datum_set.size_bytes > 0 ? &sizes[k] : nullptr);
	trace_point("cluster: objects listed");
	size_t slots = spec_.parallelism > 0 ? (size_t)spec_.parallelism : engine_->slots();
	size_t want_tasks = slots > 0 ? slots * 2 : 64;
	size_t per_task = (n + want_tasks - 1) / want_tasks;
	if (spec_.datum_set.per_worker > 0)
		per_task = (size_t)spec_.datum_set.per_worker;
	groups_ = group_tasks(sizes, spec_.datum_set.number, spec_.datum_set.size_bytes, per_task);
	for (auto &g : groups_) {
		TaskManifest t;
		std::set<Oid> all;
		for (size_t k : g) {
			all.insert(objs[k].begin(), objs[k].end());
			objects_.insert(objs[k].begin(), objs[k].end());
			size_t i = plan_.to_run[k];
			t.datums.push_back({job_.datums[i].id, plan_.datums[i]});
		}
		t.objects.assign(all.begin(), all.end());
		task_texts_.push_back(format_task(t));
	}
	tries_.assign(groups_.size(), 0);
	done_.assign(groups_.size(), false);
	lost_.assign(groups_.size(), "");
}

// The job's manifest and its key (what it runs, not its id).
void ClusterJob::make_key()
{
	m_.id = job_.id;
	m_.pipeline = spec_.name;
	m_.image = node_image_ref(plan_.image_ref);
	m_.runtime = !o_.runtime.empty() ? o_.runtime : spec_.runtime;
	m_.tasks = groups_.size();
	m_.datums = plan_.to_run.size();
	m_.spec = spec_.source;
	// --reprocess runs again what ran before: a key of its own.
	std::vector<std::string> key_parts = task_texts_;
	if (o_.reprocess)
		key_parts.push_back("reprocess " + job_.id);
	std::string k = job_key(m_, key_parts);
	pre_ = "jobs/" + k + "/";
	engine_->set_job(k, plan_.image_ref);
}

// The manifest: tasks first, the job last (a job on the remote has its
// tasks).  A job already there is this one, started before by a
// coordinator that did not finish: it keeps its id.
void ClusterJob::write_job()
{
	if (auto old = b_->get(key("job"), 32u << 20)) {
		job_.id = parse_job_manifest(old->data, b_->describe() + "/" + key("job")).id;
	} else {
		upload_inputs();
		for (size_t t = 0; t < task_texts_.size(); t++)
			b_->put(key("tasks/" + std::to_string(t)), task_texts_[t]);
		b_->put(key("job"), format_job_manifest(m_));
	}
	trace_point("cluster: job written");
}

// What the workers read must be on the remote: the objects the tasks
// list that the remote's own branches do not hold go up as one pack of
// the job (inputs/), no branch of the remote moved and no lock taken.
// "Held" is what the remote's refs of the input branches reach (every
// object a listed ref reaches is in a listed pack); anything else goes in
// the pack, so a stale remote costs bytes, never a failed task.
void ClusterJob::upload_inputs()
{
	remote::State st = remote::read_state(*b_);
	std::set<std::string> branches;
	for (size_t i : plan_.to_run)
		for (auto &f : plan_.datums[i].files)
			branches.insert(branch_ref(f.repo, f.branch));
	std::set<Oid> held;
	for (auto &ref : branches) {
		auto it = st.refs.find(ref);
		if (it == st.refs.end() || s_.object_type(it->second) != ObjType::commit)
			continue;
		add_below(s_, s_.read_commit(it->second).tree, held);
	}
	std::vector<Oid> missing;
	for (auto &o : objects_)
		if (!held.count(o))
			missing.push_back(o);
	trace_point("cluster: inputs found");
	if (missing.empty())
		return;
	std::string tmp = s_.path("pach/tmp/inputs-" + std::to_string(getpid()));
	remove_tree(tmp);
	mkdir_p(tmp);
	auto sum = copy_to_pack(s_, tmp, missing, s_.odb().packs(), "Packing inputs");
	std::string base = tmp + "/pack-" + sum->hex();
	uint64_t size = 0;
	for (const char *ext : {".pack", ".idx"}) {
		Fd fd(::open((base + ext).c_str(), O_RDONLY | O_CLOEXEC));
		struct stat stb;
		if (!fd || fstat(fd.get(), &stb) < 0)
			die_errno("unable to open '" + base + ext + "'");
		b_->put_file(key("inputs/" + sum->hex() + ext), fd.get(), (uint64_t)stb.st_size);
		if (std::string(ext) == ".pack")
			size = (uint64_t)stb.st_size;
	}
	remove_tree(tmp);
	m_.packs = {{sum->hex(), size}};
	trace_point("cluster: inputs uploaded");
}

// Task t's result: its pack verified into the store, then exactly the
// task's datums, each once, naming objects the pack brought.
void ClusterJob::collect_one(size_t t)
{
	std::string where = b_->describe() + "/" + key("results/" + std::to_string(t));
	auto obj = b_->get(key("results/" + std::to_string(t)), 64u << 20);
	if (!obj)
		return;
	TaskResult r = parse_result(obj->data, where);
	if (r.pack) {
		std::string pk = key("packs/" + r.pack->hex() + ".pack");
		auto sz = b_->size(pk);
		if (!sz)
			die("{}: its pack {} is not on the remote", where, r.pack->hex());
		remote::TransferStats ts;
		remote::download_packs(s_, *b_, {{r.pack->hex(), *sz, pk}}, ts);
		s_.odb().refresh();
	}
	std::map<std::string, size_t> idx;
	for (size_t k : groups_[t])
		idx[job_.datums[plan_.to_run[k]].id] = plan_.to_run[k];
	if (r.datums.size() != idx.size())
		die("{}: {} datums, the task has {}", where, r.datums.size(), idx.size());
	for (auto &d : r.datums) {
		auto it = idx.find(d.id);
		if (it == idx.end())
			die("{}: datum {} is not one of the task's (or is there twice)", where, d.id);
		for (auto &oid : {d.out_tree, d.log})
			if (oid && !s_.odb().contains(*oid))
				die("{}: datum {} names object {}, which its pack does not hold", where, d.id, oid->hex());
		if (d.out_tree && s_.object_type(*d.out_tree) != ObjType::tree)
			die("{}: datum {}'s output is not a tree", where, d.id);
		DatumRecord &rec = job_.datums[it->second];
		rec.state = d.state;
		rec.out_tree = d.out_tree;
		rec.log = d.log;
		rec.secs = d.secs;
		rec.attempts = d.attempts;
		idx.erase(it);
	}
	done_[t] = true;
	n_done_++;
	prog_->add(1);
	trace_point("cluster: result collected");
}

// Every result that appeared since the last look (one listing).
void ClusterJob::collect()
{
	for (auto &l : b_->list(key("results/"))) {
		std::string name = l.key.substr(l.key.rfind('/') + 1);
		if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos)
			continue;
		size_t t = std::stoul(name);
		if (t < groups_.size() && !done_[t])
			collect_one(t);
	}
}

// Out of tries: the task's datums fail, their log says why.
void ClusterJob::give_up(size_t t)
{
	std::string note = fmt::format("pach: task {} of job {} ended without a result after {} tries: {}\n", t,
				       job_.id, tries_[t], lost_[t]);
	Oid log = w_->blob(note.data(), note.size());
	for (size_t k : groups_[t]) {
		DatumRecord &rec = job_.datums[plan_.to_run[k]];
		rec.state = DatumState::failed;
		rec.log = log;
		rec.attempts = tries_[t];
	}
	done_[t] = true;
	n_done_++;
	prog_->add(1);
}

void ClusterJob::submit(const std::vector<size_t> &ts)
{
	if (ts.empty())
		return;
	size_t most = 0;
	for (size_t t : ts) {
		tries_[t] += engine_->tries_per_submit();
		most = std::max(most, groups_[t].size());
	}
	engine_->submit(ts, most);
}

std::string ClusterJob::describe()
{
	std::vector<size_t> all(groups_.size());
	size_t most = 0;
	for (size_t t = 0; t < groups_.size(); t++) {
		all[t] = t;
		most = std::max(most, groups_[t].size());
	}
	return engine_->describe(all, most);
}

// Submit what has no result and is not queued or running, then poll:
// results on the remote are the truth; the engine is asked only which
// tasks ended without one.
void ClusterJob::run()
{
	InterruptGuard guard;
	prog_ = std::make_unique<Progress>("Running tasks", groups_.size());
	collect();
	std::set<size_t> running = engine_->resume();
	std::vector<size_t> todo;
	for (size_t t = 0; t < groups_.size(); t++)
		if (!done_[t] && !running.count(t))
			todo.push_back(t);
	submit(todo);
	trace_point("cluster: submitted");
	double poll = std::max(0.2, atof(cfg(s_, executor_ + ".pollSeconds", "2").c_str()));
	int engine_failures = 0;
	while (n_done_ < groups_.size()) {
		for (int i = 0; i < (int)(poll * 10) && !g_interrupted; i++)
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		if (g_interrupted)
			die("interrupted: {}; run again to go on (finished tasks are kept)", engine_->cancel());
		collect();
		if (n_done_ == groups_.size())
			break;
		std::map<size_t, std::string> ended;
		if (!engine_->poll(ended)) {
			if (++engine_failures * poll >= 60) {
				engine_->cancel();
				die("{}: {} for a minute; nothing was committed", executor_, engine_->last_error());
			}
			continue;
		}
		engine_failures = 0;
		if (ended.empty())
			continue;
		collect();   // a task may have finished between the two looks
		std::vector<size_t> again;
		for (auto &[t, why] : ended) {
			if (t >= groups_.size() || done_[t])
				continue;
			auto e = b_->get(key("errors/" + std::to_string(t)), 4096);
			lost_[t] = e ? why + ": " + quote_path(e->data.substr(0, e->data.find('\n'))) : why;
			if (tries_[t] < spec_.datum_tries) {
				b_->remove(key("errors/" + std::to_string(t)));
				warning(fmt::format("{}: task {} ended without a result ({}); submitting it again", spec_.name,
						    t, lost_[t]));
				again.push_back(t);
			} else {
				give_up(t);
			}
		}
		submit(again);
	}
	prog_->done();
}

} // namespace

void run_datums_on_cluster(Store &s, ObjectWriter &w, const JobPlan &plan, JobRecord &job, const RunOptions &o)
{
	trace_point("cluster: start");
	ClusterJob cj(s, &w, plan, job, o);
	cj.make_tasks();
	cj.make_key();
	cj.write_job();
	cj.run();
}

std::string describe_cluster_job(Store &s, const JobPlan &plan, JobRecord &job, const RunOptions &o)
{
	ClusterJob cj(s, nullptr, plan, job, o);
	cj.make_tasks();
	cj.make_key();
	return cj.describe();
}

} // namespace pach::runner
