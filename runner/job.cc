#include "runner/steps.h"
#include "runner/cluster.h"
#include "plumbing/crash.h"

#include "plumbing/address.h"
#include "plumbing/branch_commit.h"
#include "plumbing/config.h"
#include "plumbing/error.h"
#include "plumbing/meta.h"
#include "plumbing/progress.h"
#include "plumbing/stat_cache.h"
#include "plumbing/tree_edit.h"
#include "runner/image.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string_view>
#include <unordered_map>

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
// (or one a file where the other a directory) fail the job, naming both.
Oid merge_outputs(ObjectWriter &w, const std::vector<std::pair<std::string, Oid>> &trees)
{
	struct Owned {
		PathEntry file;
		size_t datum;
	};
	std::vector<Owned> files;
	for (size_t d = 0; d < trees.size(); d++) {
		// Every file of the datum's tree, iteratively, depth bounded.
		std::vector<std::pair<std::string, Oid>> stack = {{"", trees[d].second}};
		while (!stack.empty()) {
			auto [prefix, t] = stack.back();
			stack.pop_back();
			if ((size_t)std::count(prefix.begin(), prefix.end(), '/') >= (size_t)kMaxTreeDepth)
				die("datum {} writes '{}', nested more than {} directories deep", trees[d].first.substr(0, 12),
				    prefix, kMaxTreeDepth);
			for (auto &e : w.read_tree(t)) {
				std::string p = prefix.empty() ? e.name : prefix + "/" + e.name;
				if (e.is_dir())
					stack.push_back({p, e.oid});
				else
					files.push_back({{p, e}, d});
			}
		}
	}
	std::sort(files.begin(), files.end(), [](auto &a, auto &b) { return a.file.path < b.file.path; });
	auto clash = [&](const Owned &a, const Owned &b, const std::string &p) {
		die("datums {} and {} both write '/{}'", trees[a.datum].first.substr(0, 12),
		    trees[b.datum].first.substr(0, 12), p);
	};
	// The same path twice sorts side by side; a file that is another's
	// directory ("a" and "a/b") is found by searching for "a/" (entries
	// like "a-b" may sort between them).
	for (size_t k = 0; k < files.size(); k++) {
		const std::string &p = files[k].file.path;
		if (k + 1 < files.size() && files[k + 1].file.path == p)
			clash(files[k], files[k + 1], p);
		std::string dir = p + "/";
		auto it = std::lower_bound(files.begin() + (long)k, files.end(), dir,
					   [](const Owned &a, const std::string &v) { return a.file.path < v; });
		if (it != files.end() && it->file.path.compare(0, dir.size(), dir) == 0)
			clash(files[k], *it, p);
	}
	std::vector<PathEntry> flat;
	flat.reserve(files.size());
	for (auto &f : files)
		flat.push_back(std::move(f.file));
	return build_tree(w, flat);
}

// The same union, built from the previous output by taking out what
// changed datums wrote before and putting in what they write now: the
// cost follows the change.  Returns nullopt whenever anything is not as
// expected (a path clash, a file another datum owns), so the caller can
// fall back to the full merge and its exact error.
std::optional<Oid> merge_incremental(ObjectWriter &w, const Oid &base, const std::vector<Oid> &removed,
				     const std::vector<Oid> &added)
{
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

JobPlan plan_job(Store &s, const PipelineSpec &spec, const std::string &salt, const RunOptions &o, JobRecord &job)
{
	JobPlan plan(spec);
	auto commits = resolve_inputs(s, spec);
	for (auto &[k, v] : commits)
		job.inputs.push_back({k, v ? v->hex() : "-"});
	// An input repo that is gone is not an empty input: the job fails
	// rather than commit an output of nothing.
	std::string &gone = plan.missing_inputs;
	for (auto &[name, repo] : input_repos(spec))
		if (!repo_exists(s, repo))
			gone += (gone.empty() ? "" : ", ") + ("'" + repo + "'");

	// The image is part of the transform: its digest salts every datum,
	// whichever runtime runs them (a dry run with another runtime agrees).
	plan.image_ref = pipeline_image(s, spec);
	// On Kubernetes the pod is the container: no runtime here.
	bool in_pods = pipeline_executor(s, spec, o.executor) == "kubernetes";
	plan.runtime = in_pods ? "pod" : pipeline_runtime(s, spec, plan.image_ref, o.runtime);
	std::string digest;
	if (plan.runtime != "local" && plan.runtime != "pod") {
		plan.image = resolve_image(s, plan.image_ref, false, plan.runtime);
		digest = plan.image->digest;
	} else if (!plan.image_ref.empty()) {
		try {
			digest = resolve_image(s, plan.image_ref, false, "").digest;
		} catch (const Error &) {
			digest = plan.image_ref;   // a named image with no engine here to ask
		}
	}
	plan.salt = salt + digest;

	// Datums whose hash succeeded last time are reused, not run.
	plan.prev = last_job(s, spec.name, false);
	const auto &prev = plan.prev;
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
			if (d.state == DatumState::success || d.state == DatumState::skipped || d.state == DatumState::recovered)
				slot_of(d.hash, true, (uint32_t)k);
		}
	trace_point("previous job loaded");
	bool may_skip = !o.reprocess && spec.reprocess_spec != "every_job";
	auto &to_run = plan.to_run;
	auto &from_prev = plan.from_prev;
	// Datums are hashed as they are found; only those that run keep
	// their files (a reused datum is its record: at 1M datums this is
	// the difference between ~40 and ~400 bytes each).
	auto on_datum = [&](Datum &&d) {
		size_t i = job.datums.size();
		DatumRecord &r = job.datums.emplace_back();
		r.id = d.id();
		r.hash = d.hash(r.id, plan.salt);
		long k = may_skip && prev ? slot_of(r.hash, false, 0) : -1;
		from_prev.push_back(k);
		if (k >= 0) {
			const DatumRecord &p = prev->datums[(size_t)k];
			r.state = DatumState::skipped;
			r.out_tree = p.out_tree;
			r.log = p.log;
			plan.datums.emplace_back();
		} else {
			for (auto &f : d.files)
				r.files.push_back(f.input + ":" + f.path);
			r.state = o.dry_run ? DatumState::would_run : DatumState::pending;
			to_run.push_back(i);
			plan.datums.push_back(std::move(d));
		}
	};
	if (gone.empty())
		for_each_datum(s, spec.input, commits, on_datum);
	trace_point("datums hashed");
	plan.out_ref = branch_ref(spec.name, spec.output_branch);
	plan.head = s.ref(plan.out_ref);
	const auto &head = plan.head;
	// Nothing changed since the last successful job: every datum matched
	// a distinct one of it (hashes include the id), as many as it had.
	if (to_run.empty() && prev && prev->state == JobState::success && prev->datums.size() == job.datums.size() &&
	    prev->output == head) {
		job.state = JobState::up_to_date;
		job.output = head;
	} else if (o.dry_run) {
		job.state = JobState::dry_run;
	}
	return plan;

}

void commit_output(Store &s, ObjectWriter &w, const JobPlan &plan, JobRecord &job)
{
	const PipelineSpec &spec = plan.spec;
	const auto &prev = plan.prev;
	const auto &head = plan.head;
	if (!plan.missing_inputs.empty()) {
		job.state = JobState::failure;
		job.error = fmt::format("input repo {} does not exist (deleted?): recreate it, or update the pipeline",
					plan.missing_inputs);
		return;
	}
	if (job.count(DatumState::failed)) {
		job.state = JobState::failure;
		job.error = fmt::format("{} datum(s) failed", job.count(DatumState::failed));
		return;
	}
	{
		std::vector<std::pair<std::string, Oid>> trees;
		for (auto &r : job.datums)
			if (r.out_tree)
				trees.push_back({r.id, *r.out_tree});
		try {
			// Few datums changed since a job whose output is still the
			// head: edit that output instead of rebuilding it.
			std::optional<Oid> tree;
			if (prev && prev->state == JobState::success && prev->output && prev->output == head) {
				std::vector<char> used(prev->datums.size());
				for (long k : plan.from_prev)
					if (k >= 0)
						used[(size_t)k] = 1;
				std::vector<Oid> removed, added;
				for (size_t k = 0; k < prev->datums.size(); k++)
					if (!used[k] && prev->datums[k].out_tree)
						removed.push_back(*prev->datums[k].out_tree);
				for (size_t i : plan.to_run)
					if (job.datums[i].out_tree)
						added.push_back(*job.datums[i].out_tree);
				trace_point("changed outputs found");
				if (removed.size() + added.size() <= 64)
					tree = merge_incremental(w, s.read_commit(*head).tree, removed, added);
				trace_point(tree ? "output edited" : "output edit refused");
			}
			if (!tree)
				tree = merge_outputs(w, trees);
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
				// crash point run-output: output commit written, branch not moved
				auto c = commit_on_ref(s, w, plan.out_ref, *tree, head, s.committer(), msg,
						       "pach run: job " + job.id, "run-output");
				if (!c)
					die("output branch '{}' of '{}' moved during the job; run again", spec.output_branch,
					    spec.name);
				job.output = *c;
			}
			job.state = JobState::success;
		} catch (const Error &e) {
			job.state = JobState::failure;
			job.error = e.what();
		}
	}
}

void record_job(Store &s, const JobPlan &plan, JobRecord &job)
{
	const PipelineSpec &spec = plan.spec;
	job.finished = time(nullptr);
	std::string rec = format_job_header(job);
	// Shards of the record by the datum id's first two hex digits.  A
	// shard whose datums all come unchanged from the previous job, as many
	// as it had there, is that job's shard: same objects, nothing written.
	std::vector<std::vector<size_t>> shards(256);
	for (size_t i = 0; i < job.datums.size(); i++)
		shards[(size_t)std::stoi(job.datums[i].id.substr(0, 2), nullptr, 16)].push_back(i);
	std::vector<size_t> prev_count(256);
	const auto &prev = plan.prev;
	const auto &from_prev = plan.from_prev;
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
							    if (q.state == DatumState::skipped)
								    q.state = DatumState::success;
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
}

JobRecord run_pipeline(Store &s, const PipelineSpec &spec, const std::string &salt, const RunOptions &o)
{
	JobRecord job;
	job.id = new_job_id();
	job.pipeline = spec.name;
	job.salt = salt;
	job.started = time(nullptr);
	if (auto m = s.ref(kMetaRef))
		job.spec_version = m->hex();
	JobPlan plan = plan_job(s, spec, salt, o, job);
	if (job.state == JobState::dry_run && !plan.to_run.empty() && pipeline_executor(s, spec, o.executor) != "local")
		job.submission = describe_cluster_job(s, plan, job, o);
	if (job.state != JobState::none)
		return job;   // up to date, or a dry run
	auto lock = s.lock_shared();
	ObjectWriter w(s);
	if (pipeline_executor(s, spec, o.executor) == "local")
		run_datums(s, w, plan, job, o);
	else
		run_datums_on_cluster(s, w, plan, job, o);
	commit_output(s, w, plan, job);
	w.finish();
	trace_point("output committed");
	record_job(s, plan, job);
	return job;
}

} // namespace pach::runner
