#include "runner/cluster.h"

#include "plumbing/config.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/progress.h"
#include "plumbing/quote.h"
#include "remote/download.h"
#include "remote/remotes.h"
#include "remote/sync.h"
#include "runner/manifest.h"
#include "runner/slurm.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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

// Every object a datum reads (its entries and all below them), and the
// bytes of its blobs.
void datum_objects(const Store &s, const Datum &d, std::set<Oid> &objs, uint64_t &bytes)
{
	std::vector<Oid> stack;
	for (auto &f : d.files) {
		if (f.entry.mode == kModeGitlink)
			continue;
		if (f.entry.is_dir())
			stack.push_back(f.entry.oid);
		else if (objs.insert(f.entry.oid).second && !f.empty_files)
			bytes += s.odb().open(f.entry.oid)->size();
	}
	while (!stack.empty()) {
		Oid t = stack.back();
		stack.pop_back();
		if (!objs.insert(t).second)
			continue;
		for (auto &e : s.read_tree(t)) {
			if (e.is_dir())
				stack.push_back(e.oid);
			else if (e.mode != kModeGitlink && objs.insert(e.oid).second)
				if (auto r = s.odb().open(e.oid))
					bytes += r->size();
		}
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

void run_datums_on_cluster(Store &s, ObjectWriter &w, const JobPlan &plan, JobRecord &job, const RunOptions &o)
{
	const PipelineSpec &spec = plan.spec;
	std::string executor = pipeline_executor(s, spec, o.executor);
	if (executor == "kubernetes")
		die("executor 'kubernetes' is not available yet; use 'slurm' or 'local'");
	remote::RemoteConfig rc = remote::remote_pick(s, !o.remote.empty() ? o.remote : cfg(s, "run.remote"));
	auto b = remote::open_backend(rc);

	trace_point("cluster: start");
	// 1. What the workers read must be on the remote: push the input
	// branches (a normal push: a diverged branch stops the run).
	std::set<std::string> inputs;
	for (size_t i : plan.to_run)
		for (auto &f : plan.datums[i].files)
			inputs.insert(f.repo + "@" + f.branch);
	{
		remote::PushOptions po;
		po.what.assign(inputs.begin(), inputs.end());
		remote::TransferStats ts;
		for (auto &u : remote::push(s, rc, po, ts))
			if (u.status == "rejected")
				die("executor {}: pushing the inputs to remote '{}': {} was rejected ({}); pull first", executor,
				    rc.name, remote::ref_label(u.ref), u.reason);
	}
	trace_point("cluster: inputs pushed");

	// 2. Tasks: consecutive datums, as datum_set_spec asks, else 4 per
	// task slot (parallelism_spec's, else what the partition holds at
	// once, else 64 tasks): few enough that starting a task is small
	// beside running it, enough to balance uneven datums.
	std::vector<std::set<Oid>> objs(plan.to_run.size());
	std::vector<uint64_t> sizes(plan.to_run.size());
	for (size_t k = 0; k < plan.to_run.size(); k++)
		datum_objects(s, plan.datums[plan.to_run[k]], objs[k], sizes[k]);
	size_t n = plan.to_run.size();
	SlurmEngine engine(s, spec, rc, *b, "");
	size_t slots = spec.parallelism > 0 ? (size_t)spec.parallelism : engine.slots();
	size_t want_tasks = slots > 0 ? slots * 4 : 64;
	size_t per_task = (n + want_tasks - 1) / want_tasks;
	if (spec.datum_set.per_worker > 0)
		per_task = (size_t)spec.datum_set.per_worker;
	auto groups = group_tasks(sizes, spec.datum_set.number, spec.datum_set.size_bytes, per_task);
	trace_point("cluster: objects listed");
	std::vector<std::string> task_texts;
	for (auto &g : groups) {
		TaskManifest t;
		std::set<Oid> all;
		for (size_t k : g) {
			all.insert(objs[k].begin(), objs[k].end());
			size_t i = plan.to_run[k];
			t.datums.push_back({job.datums[i].id, plan.datums[i]});
		}
		t.objects.assign(all.begin(), all.end());
		task_texts.push_back(format_task(t));
	}
	JobManifest m;
	m.id = job.id;
	m.pipeline = spec.name;
	m.image = node_image_ref(plan.image_ref);
	m.runtime = !o.runtime.empty() ? o.runtime : spec.runtime;
	m.tasks = groups.size();
	m.datums = n;
	m.spec = spec.source;
	// --reprocess runs again what ran before: a key of its own.
	std::vector<std::string> key_parts = task_texts;
	if (o.reprocess)
		key_parts.push_back("reprocess " + job.id);
	std::string key = job_key(m, key_parts);
	std::string pre = "jobs/" + key + "/";

	// 3. The manifest: tasks first, the job last (a job on the remote has
	// its tasks).  A job already there is this one, started before by a
	// coordinator that did not finish: it keeps its id.
	if (auto old = b->get(pre + "job", 32u << 20)) {
		JobManifest om = parse_job_manifest(old->data, b->describe() + "/" + pre + "job");
		job.id = om.id;
	} else {
		for (size_t t = 0; t < task_texts.size(); t++)
			b->put(pre + "tasks/" + std::to_string(t), task_texts[t]);
		b->put(pre + "job", format_job_manifest(m));
	}
	trace_point("cluster: job written");

	// 4. Submit what has no result and is not queued or running, then
	// poll: results on the remote are the truth; the engine is asked only
	// which tasks ended without one.
	engine.set_key(key);
	InterruptGuard guard;
	std::vector<int> tries(groups.size(), 0);
	std::vector<bool> done(groups.size(), false);
	std::vector<std::string> lost(groups.size());   // why a task gave up
	size_t n_done = 0;
	Progress prog("Running tasks", groups.size());

	auto collect = [&]() {
		std::set<size_t> ready;
		for (auto &l : b->list(pre + "results/")) {
			std::string name = l.key.substr(l.key.rfind('/') + 1);
			if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos)
				continue;
			size_t t = std::stoul(name);
			if (t < groups.size() && !done[t])
				ready.insert(t);
		}
		for (size_t t : ready) {
			std::string where = b->describe() + "/" + pre + "results/" + std::to_string(t);
			auto obj = b->get(pre + "results/" + std::to_string(t), 64u << 20);
			if (!obj)
				continue;
			TaskResult r = parse_result(obj->data, where);
			if (r.pack) {
				std::string pk = pre + "packs/" + r.pack->hex() + ".pack";
				auto sz = b->size(pk);
				if (!sz)
					die("{}: its pack {} is not on the remote", where, r.pack->hex());
				if (!s.odb().contains_packed(*r.pack)) {
					remote::TransferStats ts;
					remote::download_packs(s, *b, {{r.pack->hex(), *sz, pk}}, ts);
					s.odb().refresh();
				}
			}
			// Exactly the task's datums, each once, naming objects its
			// pack brought.
			std::map<std::string, size_t> idx;
			for (size_t k : groups[t])
				idx[job.datums[plan.to_run[k]].id] = plan.to_run[k];
			if (r.datums.size() != idx.size())
				die("{}: {} datums, the task has {}", where, r.datums.size(), idx.size());
			for (auto &d : r.datums) {
				auto it = idx.find(d.id);
				if (it == idx.end())
					die("{}: datum {} is not one of the task's (or is there twice)", where, d.id);
				for (auto &oid : {d.out_tree, d.log})
					if (oid && !s.odb().contains(*oid))
						die("{}: datum {} names object {}, which its pack does not hold", where, d.id,
						    oid->hex());
				if (d.out_tree && s.object_type(*d.out_tree) != ObjType::tree)
					die("{}: datum {}'s output is not a tree", where, d.id);
				DatumRecord &rec = job.datums[it->second];
				rec.state = d.state;
				rec.out_tree = d.out_tree;
				rec.log = d.log;
				rec.secs = d.secs;
				rec.attempts = d.attempts;
				idx.erase(it);
			}
			done[t] = true;
			n_done++;
			prog.add(1);
			trace_point("cluster: result collected");
		}
	};

	collect();
	std::vector<size_t> todo;
	std::set<size_t> running = engine.resume();   // tasks of earlier submissions still queued or running
	for (size_t t = 0; t < groups.size(); t++)
		if (!done[t] && !running.count(t))
			todo.push_back(t);
	auto submit = [&](const std::vector<size_t> &ts) {
		if (ts.empty())
			return;
		size_t most = 0;
		for (size_t t : ts) {
			tries[t]++;
			most = std::max(most, groups[t].size());
		}
		engine.submit(ts, most);
	};
	submit(todo);
	trace_point("cluster: submitted");
	double poll = std::max(0.2, atof(cfg(s, "slurm.pollSeconds", "2").c_str()));
	int engine_failures = 0;
	while (n_done < groups.size()) {
		for (int i = 0; i < (int)(poll * 10) && !g_interrupted; i++)
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		if (g_interrupted) {
			std::string c = engine.cancel();
			die("interrupted: {}; run again to go on (finished tasks are kept)", c);
		}
		collect();
		if (n_done == groups.size())
			break;
		std::map<size_t, std::string> ended;
		if (!engine.poll(ended)) {
			if (++engine_failures * poll >= 60) {
				engine.cancel();
				die("slurm: {} for a minute; nothing was committed", engine.last_error());
			}
			continue;
		}
		engine_failures = 0;
		if (ended.empty())
			continue;
		collect();   // a task may have finished between the two looks
		std::vector<size_t> again;
		for (auto &[t, why] : ended) {
			if (t >= groups.size() || done[t])
				continue;
			if (auto e = b->get(pre + "errors/" + std::to_string(t), 4096))
				lost[t] = why + ": " + quote_path(e->data.substr(0, e->data.find('\n')));
			else
				lost[t] = why;
			if (tries[t] < spec.datum_tries) {
				b->remove(pre + "errors/" + std::to_string(t));
				warning(fmt::format("{}: task {} ended without a result ({}); submitting it again", spec.name, t,
						    lost[t]));
				again.push_back(t);
			} else {
				// Out of tries: its datums fail, the log says why.
				std::string note = fmt::format("pach: task {} of job {} ended without a result after {} tries: {}\n",
							       t, job.id, tries[t], lost[t]);
				Oid log = w.blob(note.data(), note.size());
				for (size_t k : groups[t]) {
					DatumRecord &rec = job.datums[plan.to_run[k]];
					rec.state = DatumState::failed;
					rec.log = log;
					rec.attempts = tries[t];
				}
				done[t] = true;
				n_done++;
				prog.add(1);
			}
		}
		submit(again);
	}
	prog.done();
}

} // namespace pach::runner
