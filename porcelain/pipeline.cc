#include "porcelain/pipeline.h"

#include "plumbing/error.h"
#include "plumbing/meta.h"
#include "plumbing/tree_edit.h"
#include "porcelain/repo.h"

#include <ctime>
#include <functional>
#include <map>
#include <set>

namespace pach::porcelain {

std::string transform_hash(const runner::PipelineSpec &s)
{
	Sha1 h;
	auto add = [&](const std::string &x) {
		h.update(x.data(), x.size());
		h.update("\0", 1);
	};
	add("image");
	add(s.transform.image);
	add("cmd");
	for (auto &c : s.transform.cmd)
		add(c);
	add("stdin");
	for (auto &c : s.transform.stdin_lines)
		add(c);
	add("env");
	for (auto &[k, v] : s.transform.env) {
		add(k);
		add(v);
	}
	add("working_dir");
	add(s.transform.working_dir);
	add("user");
	add(s.transform.user);
	return h.final().hex();
}

static std::optional<Oid> meta_tree(const Store &s)
{
	auto c = s.ref(kMetaRef);
	if (!c)
		return std::nullopt;
	return s.read_commit(*c).tree;
}

static StoredPipeline load(const Store &s, const Oid &dir, const std::string &name)
{
	StoredPipeline p;
	auto spec = lookup_path(s, dir, {"spec"});
	if (!spec)
		die("pipeline '{}' is damaged: no spec", name);
	auto r = runner::parse_specs(s.odb().read_small(spec->oid), "pipeline '" + name + "'");
	p.spec = r.specs.at(0);
	if (auto salt = lookup_path(s, dir, {"salt"}))
		p.salt = s.odb().read_small(salt->oid);
	else
		p.salt = transform_hash(p.spec);
	return p;
}

std::optional<StoredPipeline> pipeline_get(const Store &s, const std::string &name)
{
	auto t = meta_tree(s);
	if (!t)
		return std::nullopt;
	auto e = lookup_path(s, *t, {"pipelines", name});
	if (!e || !e->is_dir())
		return std::nullopt;
	return load(s, e->oid, name);
}

std::vector<StoredPipeline> pipeline_list(const Store &s)
{
	std::vector<StoredPipeline> out;
	auto t = meta_tree(s);
	if (!t)
		return out;
	auto e = lookup_path(s, *t, {"pipelines"});
	if (!e || !e->is_dir())
		return out;
	for (auto &p : s.read_tree(e->oid))
		if (p.is_dir())
			out.push_back(load(s, p.oid, p.name));
	return out;
}

// Dies naming the cycle if the pipelines (by output repo) form one.
static void check_acyclic(const std::map<std::string, runner::PipelineSpec> &all)
{
	std::map<std::string, int> state; // 0 new, 1 on stack, 2 done
	std::vector<std::string> stack;
	std::function<void(const std::string &)> visit = [&](const std::string &n) {
		state[n] = 1;
		stack.push_back(n);
		for (auto &[input, repo] : runner::input_repos(all.at(n))) {
			if (!all.count(repo))
				continue;
			if (state[repo] == 1) {
				std::string cyc;
				bool on = false;
				for (auto &x : stack) {
					on |= x == repo;
					if (on)
						cyc += x + " -> ";
				}
				const auto &sp = all.at(n);
				die("{}:{}: field 'input': cycle in the pipeline graph: {}{}", sp.file, sp.line, cyc, repo);
			}
			if (state[repo] == 0)
				visit(repo);
		}
		stack.pop_back();
		state[n] = 2;
	};
	for (auto &[n, sp] : all)
		if (state[n] == 0)
			visit(n);
}

void pipeline_save(Store &s, const std::vector<runner::PipelineSpec> &specs, bool update, bool keep_outputs)
{
	std::map<std::string, runner::PipelineSpec> all;
	for (auto &p : pipeline_list(s))
		all[p.spec.name] = p.spec;
	for (auto &sp : specs) {
		bool exists = all.count(sp.name) > 0;
		if (update && !exists)
			die("{}:{}: field 'pipeline.name': pipeline '{}' does not exist (use 'pach pipeline create')", sp.file,
			    sp.line, sp.name);
		if (!update && exists)
			die("{}:{}: field 'pipeline.name': pipeline '{}' already exists (use 'pach pipeline update')", sp.file,
			    sp.line, sp.name);
		if (!exists && repo_exists(s, sp.name))
			die("{}:{}: field 'pipeline.name': a repo named '{}' already exists; a pipeline's output repo takes its name",
			    sp.file, sp.line, sp.name);
		all[sp.name] = sp;
	}
	for (auto &sp : specs) {
		std::function<void(const runner::Input &)> check = [&](const runner::Input &in) {
			if (in.kind == runner::Input::pfs && !repo_exists(s, in.pfs_in.repo) && !all.count(in.pfs_in.repo))
				die("{}:{}: field 'input.pfs.repo': repo '{}' not found", sp.file, in.line, in.pfs_in.repo);
			if (in.kind == runner::Input::pfs && in.pfs_in.repo == sp.name)
				die("{}:{}: field 'input.pfs.repo': pipeline '{}' cannot read its own output", sp.file, in.line,
				    sp.name);
			for (auto &ch : in.children)
				check(ch);
		};
		check(sp.input);
		// Ticks are commits (and `overwrite` empties the branch): a cron
		// input writes only into a repo made for cron ticks.
		std::function<void(const runner::Input &)> cron = [&](const runner::Input &in) {
			for (auto &ch : in.children)
				cron(ch);
			if (in.kind != runner::Input::cron)
				return;
			const std::string &r = in.cron_in.repo;
			if (all.count(r) && r != sp.name)
				die("{}:{}: field 'input.cron.repo': '{}' is the output of a pipeline", sp.file, in.line, r);
			if (auto info = repo_info(s, r);
			    info && info->description.compare(0, 22, "cron ticks of pipeline") != 0)
				die("{}:{}: field 'input.cron.repo': repo '{}' exists and does not hold cron ticks; "
				    "refusing to write ticks into it",
				    sp.file, in.line, r);
		};
		cron(sp.input);
	}
	check_acyclic(all);

	// Output repos (and cron repos) first, so readers never see a spec
	// whose repos are missing.
	for (auto &sp : specs) {
		if (!repo_exists(s, sp.name))
			repo_create(s, sp.name, "output of pipeline " + sp.name);
		for (auto &[input, repo] : runner::input_repos(sp))
			if (!repo_exists(s, repo) && !all.count(repo))
				repo_create(s, repo, "cron ticks of pipeline " + sp.name);
	}
	std::string msg = std::string(update ? "pipeline update" : "pipeline create");
	for (auto &sp : specs)
		msg += " " + sp.name;
	update_meta(s, msg, [&](ObjectWriter &w, const std::optional<Oid> &t) -> std::optional<Oid> {
		std::optional<Oid> root = t;
		for (auto &sp : specs) {
			std::string salt = transform_hash(sp);
			if (update && keep_outputs && root) {
				if (auto old = lookup_path(w, *root, {"pipelines", sp.name, "salt"}))
					salt = s.odb().read_small(old->oid);
			}
			// Only spec and salt: the rest of the pipeline's directory
			// (its last job) stays.
			Oid spec_blob = w.blob(sp.source.data(), sp.source.size());
			Oid salt_blob = w.blob(salt.data(), salt.size());
			root = edit_tree(s, w, root, {"pipelines", sp.name, "spec"}, TreeEntry{"spec", kModeFile, spec_blob});
			root = edit_tree(s, w, root, {"pipelines", sp.name, "salt"}, TreeEntry{"salt", kModeFile, salt_blob});
		}
		return root;
	});
}

std::vector<PipelineVersion> pipeline_history(const Store &s, const std::string &name)
{
	std::vector<PipelineVersion> out;
	auto head = s.ref(kMetaRef);
	// Walk the metadata history (first parents), newest first; a version
	// is a commit where the spec blob differs from its parent's.
	std::optional<Oid> c = head;
	while (c) {
		CommitInfo ci = s.read_commit(*c);
		auto e = lookup_path(s, ci.tree, {"pipelines", name, "spec"});
		std::optional<Oid> parent_spec;
		if (!ci.parents.empty()) {
			CommitInfo pi = s.read_commit(ci.parents[0]);
			if (auto pe = lookup_path(s, pi.tree, {"pipelines", name, "spec"}))
				parent_spec = pe->oid;
		}
		std::optional<Oid> mine = e ? std::optional<Oid>(e->oid) : std::nullopt;
		if (mine && mine != parent_spec)
			out.push_back({*c, ci.committer.when, ci.message});
		c = ci.parents.empty() ? std::nullopt : std::optional<Oid>(ci.parents[0]);
	}
	return out;
}

void pipeline_delete(Store &s, const std::string &name)
{
	if (!pipeline_get(s, name))
		die("pipeline '{}' not found", name);
	for (auto &p : pipeline_list(s))
		for (auto &[input, repo] : runner::input_repos(p.spec))
			if (repo == name && p.spec.name != name)
				die("pipeline '{}' reads the output of '{}'; delete or update it first", p.spec.name, name);
	update_meta(s, "pipeline delete " + name, [&](ObjectWriter &w, const std::optional<Oid> &t) -> std::optional<Oid> {
		if (!t || !lookup_path(s, *t, {"pipelines", name}))
			return std::nullopt;
		return edit_tree(s, w, t, {"pipelines", name}, std::nullopt);
	});
}

std::vector<StoredPipeline> pipelines_in_dag_order(const Store &s)
{
	auto all = pipeline_list(s);
	std::map<std::string, size_t> idx;
	for (size_t i = 0; i < all.size(); i++)
		idx[all[i].spec.name] = i;
	std::vector<StoredPipeline> out;
	std::set<std::string> done;
	std::function<void(size_t)> visit = [&](size_t i) {
		if (!done.insert(all[i].spec.name).second)
			return;
		for (auto &[input, repo] : runner::input_repos(all[i].spec))
			if (idx.count(repo))
				visit(idx[repo]);
		out.push_back(all[i]);
	};
	for (size_t i = 0; i < all.size(); i++)
		visit(i);
	return out;
}

} // namespace pach::porcelain
