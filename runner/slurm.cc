#include "runner/slurm.h"

#include "plumbing/config.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/store.h"
#include "runner/runtime.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

extern char **environ;

namespace pach::runner {

namespace {

std::string sh_quote(const std::string &s)
{
	std::string o = "'";
	for (char c : s)
		o += c == '\'' ? std::string("'\\''") : std::string(1, c);
	return o + "'";
}

// "123_4" (one task of array 123) -> ("123", 4); nullopt for anything else.
std::optional<std::pair<std::string, size_t>> array_task(const std::string &jid)
{
	auto us = jid.find('_');
	if (us == std::string::npos || us == 0)
		return std::nullopt;
	std::string idx = jid.substr(us + 1);
	if (idx.empty() || idx.size() > 9 || idx.find_first_not_of("0123456789") != std::string::npos)
		return std::nullopt;
	return std::pair{jid.substr(0, us), (size_t)std::stoul(idx)};
}

bool terminal(const std::string &state)
{
	for (const char *t : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
			      "DEADLINE", "PREEMPTED", "SPECIAL_EXIT", "REVOKED"})
		if (state.compare(0, strlen(t), t) == 0)
			return true;
	return false;
}

// "Key=Value" out of `scontrol -o show job` output.
std::string field_of(const std::string &line, const std::string &key)
{
	size_t p = line.find(" " + key + "=");
	if (p == std::string::npos)
		return "";
	p += key.size() + 2;
	return line.substr(p, line.find(' ', p) - p);
}

} // namespace

SlurmEngine::SlurmEngine(const Store &s, const PipelineSpec &spec, const remote::RemoteConfig &rc,
			 remote::Backend &b)
	: s_(s), spec_(spec), rc_(rc), b_(b)
{
}

std::optional<size_t> SlurmEngine::offset_of(const std::string &array) const
{
	for (auto &a : arrays_)
		if (a.id == array)
			return a.offset;
	return std::nullopt;
}

std::string SlurmEngine::script(size_t offset) const
{
	std::string pach = own_binary(s_, "slurm.pach");
	std::string cmd = "exec " + sh_quote(pach) + " worker --url " + sh_quote(rc_.url);
	if (!rc_.endpoint.empty())
		cmd += " --endpoint " + sh_quote(rc_.endpoint);
	if (!rc_.region.empty())
		cmd += " --region " + sh_quote(rc_.region);
	if (rc_.path_style)
		cmd += " --path-style";
	cmd += " --key " + key_ + " --task $((SLURM_ARRAY_TASK_ID + " + std::to_string(offset) + "))";
	cmd += " --jobs \"${SLURM_CPUS_PER_TASK:-1}\"";
	std::string o = "#!/bin/sh\n# pach worker: pipeline " + spec_.name + ", job " + key_ + "\n";
	if (auto c = config_get(&s_, "slurm.cache"))
		o += "PACH_WORKER_CACHE=" + sh_quote(*c) + "\nexport PACH_WORKER_CACHE\n";
	return o + cmd + "\n";
}

void SlurmEngine::save()
{
	std::string o;
	for (auto &a : arrays_)
		o += "slurm " + a.id + " " + std::to_string(a.offset) + "\n";
	b_.put("jobs/" + key_ + "/submitted", o);
}

size_t SlurmEngine::slots()
{
	std::vector<std::string> argv = {"sinfo", "-h", "-o", "%C"};
	if (auto p = config_get(&s_, "slurm.partition"))
		argv.insert(argv.end(), {"-p", *p});
	auto r = run_engine_cmd(s_, argv);
	// "allocated/idle/other/total", one line per partition.
	size_t total = 0;
	std::istringstream in(r.out);
	for (std::string l; r.exit == 0 && std::getline(in, l);) {
		auto sl = l.rfind('/');
		if (sl != std::string::npos)
			total += strtoul(l.c_str() + sl + 1, nullptr, 10);
	}
	int per = std::max(1, (int)std::ceil(std::max(0.0, parse_cpu(spec_.cpu))));
	return total / (size_t)per;
}

std::set<size_t> SlurmEngine::resume()
{
	std::set<size_t> running;
	auto o = b_.get("jobs/" + key_ + "/submitted", 1 << 20);
	if (!o)
		return running;
	std::istringstream in(o->data);
	for (std::string kw, id, off; in >> kw >> id >> off;) {
		if (kw != "slurm" || id.empty() || id.size() > 20 || id.find_first_not_of("0123456789") != std::string::npos ||
		    off.size() > 12 || off.find_first_not_of("0123456789") != std::string::npos)
			continue;   // not ours to understand: submit anew
		arrays_.push_back({id, std::stoul(off)});
	}
	if (arrays_.empty())
		return running;
	std::string ids;
	for (auto &a : arrays_)
		ids += (ids.empty() ? "" : ",") + a.id;
	auto r = run_engine_cmd(s_, {"squeue", "-h", "-r", "-t", "all", "-j", ids, "-o", "%i %T"});
	if (r.exit != 0)
		return running;   // gone from Slurm's memory: nothing of it runs
	std::istringstream q(r.out);
	for (std::string jid, st; q >> jid >> st;) {
		auto at = array_task(jid);
		if (!at || terminal(st))
			continue;
		if (auto off = offset_of(at->first)) {
			running.insert(*off + at->second);
			where_[*off + at->second] = at->first;
		}
	}
	return running;
}

std::vector<std::string> SlurmEngine::sbatch_args(size_t most) const
{
	std::vector<std::string> base = {"sbatch", "--parsable", "--job-name=pach-" + spec_.name, "--output=" +
					 config_get(&s_, "slurm.output").value_or("/dev/null")};
	double cpu = std::max(parse_cpu(spec_.cpu), parse_cpu(spec_.requests.cpu));
	base.push_back("--cpus-per-task=" + std::to_string(std::max(1, (int)std::ceil(std::max(0.0, cpu)))));
	int64_t mem = parse_memory(spec_.memory);
	if (mem <= 0)
		mem = parse_memory(spec_.requests.memory);
	if (mem > 0)
		base.push_back("--mem=" + std::to_string((mem + (1 << 20) - 1) >> 20) + "M");
	if (int64_t g = std::max(spec_.limits.gpu, spec_.requests.gpu); g > 0)
		base.push_back("--gres=gpu:" + std::to_string(g));
	double jt = parse_duration(spec_.job_timeout), dt = parse_duration(spec_.datum_timeout);
	double limit = jt > 0 ? jt : dt > 0 ? dt * (double)most * spec_.datum_tries + 300 : 0;
	if (limit > 0)
		base.push_back("--time=" + std::to_string((long)std::ceil(limit / 60)));
	for (const char *k : {"partition", "account", "qos"})
		if (auto v = config_get(&s_, std::string("slurm.") + k))
			base.push_back("--" + std::string(k) + "=" + *v);
	if (auto extra = config_get(&s_, "slurm.extraArgs")) {
		std::istringstream in(*extra);
		for (std::string a; in >> a;)
			base.push_back(a);
	}
	return base;
}

std::vector<std::pair<size_t, std::vector<size_t>>> SlurmEngine::split(std::vector<size_t> tasks)
{
	std::sort(tasks.begin(), tasks.end());
	if (!max_array_) {
		// Array indices stay below the site's MaxArraySize.
		auto c = run_engine_cmd(s_, {"scontrol", "show", "config"});
		max_array_ = 1001;
		std::istringstream in(c.out);
		for (std::string l; std::getline(in, l);)
			if (l.compare(0, 12, "MaxArraySize") == 0) {
				auto eq = l.find('=');
				if (eq != std::string::npos)
					max_array_ = std::max<size_t>(1, strtoul(l.c_str() + eq + 1, nullptr, 10));
			}
	}
	std::vector<std::pair<size_t, std::vector<size_t>>> out;
	for (size_t i = 0; i < tasks.size();) {
		size_t offset = tasks[i] / max_array_ * max_array_;
		std::vector<size_t> idx;
		for (; i < tasks.size() && tasks[i] < offset + max_array_; i++)
			idx.push_back(tasks[i] - offset);
		out.push_back({offset, idx});
	}
	return out;
}

static std::string array_arg(const std::vector<size_t> &idx, int parallelism)
{
	std::string arr = "--array=" + array_ranges(idx);
	if (parallelism > 0)
		arr += "%" + std::to_string(parallelism);
	return arr;
}

void SlurmEngine::submit(const std::vector<size_t> &tasks, size_t most)
{
	auto base = sbatch_args(most);
	for (auto &[offset, idx] : split(tasks)) {
		auto argv = base;
		argv.push_back(array_arg(idx, spec_.parallelism));
		auto r = run_engine_cmd(s_, argv, script(offset));
		std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
		if (r.exit != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
			die("slurm: sbatch failed: {}", r.err.empty() ? "exit code " + std::to_string(r.exit) : r.err);
		arrays_.push_back({id, offset});
		for (size_t x : idx) {
			where_[x + offset] = id;
			absent_.erase(x + offset);
		}
		save();
	}
}

std::string SlurmEngine::describe(const std::vector<size_t> &tasks, size_t most)
{
	std::string o;
	auto base = sbatch_args(most);
	for (auto &[offset, idx] : split(tasks)) {
		std::string line;
		for (auto &a : base)
			line += (line.empty() ? "" : " ") + sh_quote(a);
		o += line + " " + sh_quote(array_arg(idx, spec_.parallelism)) + " <<'EOF'\n" + script(offset) + "EOF\n";
	}
	return o;
}

bool SlurmEngine::poll(std::map<size_t, std::string> &ended)
{
	if (where_.empty())
		return true;
	std::set<std::string> ids;
	for (auto &[t, id] : where_)
		ids.insert(id);
	std::string list;
	for (auto &i : ids)
		list += (list.empty() ? "" : ",") + i;
	auto r = run_engine_cmd(s_, {"squeue", "-h", "-r", "-t", "all", "-j", list, "-o", "%i %T %r"});
	if (r.exit != 0) {
		err_ = "squeue failed: " + (r.err.empty() ? "exit code " + std::to_string(r.exit) : r.err);
		// Arrays Slurm no longer knows ended long ago: their tasks
		// count as ended (the caller looks for results first).
		if (r.err.find("Invalid job id") == std::string::npos)
			return false;
	}
	std::map<size_t, std::pair<std::string, std::string>> state;
	std::istringstream q(r.out);
	for (std::string l; std::getline(q, l);) {
		std::istringstream f(l);
		std::string jid, st, reason;
		f >> jid >> st;
		std::getline(f, reason);
		auto at = array_task(jid);
		auto off = at ? offset_of(at->first) : std::nullopt;
		if (!off)
			continue;
		size_t t = *off + at->second;
		auto w = where_.find(t);
		if (w != where_.end() && w->second == at->first)
			state[t] = {st, reason.empty() ? reason : reason.substr(1)};
	}
	for (auto it = where_.begin(); it != where_.end();) {
		size_t t = it->first;
		auto st = state.find(t);
		std::string why;
		if (st == state.end()) {
			// Not shown: gone from Slurm's memory, or not listed yet
			// right after sbatch.  Give it a few polls.
			if (++absent_[t] < 3) {
				++it;
				continue;
			}
			why = "no longer known to Slurm";
		} else if (terminal(st->second.first)) {
			auto sc = run_engine_cmd(s_, {"scontrol", "-o", "show", "job",
					       it->second + "_" + std::to_string(t - offset_of(it->second).value_or(0))});
			std::string line = " " + sc.out;
			std::string state_name = st->second.first, reason = field_of(line, "Reason"),
				    code = field_of(line, "ExitCode");
			why = "Slurm job " + it->second + ": " + state_name;
			if (!reason.empty() && reason != "None")
				why += " (" + reason + ")";
			if (code.size() > 2 && code.compare(code.size() - 2, 2, ":0") != 0) {
				int sig = atoi(code.c_str() + code.find(':') + 1);
				why += fmt::format(", killed by signal {}", sig);
				if (sig == 9 && parse_memory(spec_.memory) > 0)
					why += fmt::format(" (over its memory limit of {}?)", spec_.memory);
			} else if (!code.empty() && code != "0:0") {
				why += ", exit code " + code.substr(0, code.find(':'));
			}
			if (state_name == "OUT_OF_MEMORY")
				why += ": over its memory limit";
		} else {
			absent_.erase(t);
			++it;
			continue;
		}
		ended[t] = why;
		absent_.erase(t);
		it = where_.erase(it);
	}
	return true;
}

std::string SlurmEngine::cancel()
{
	if (arrays_.empty())
		return "nothing was submitted";
	std::vector<std::string> argv = {"scancel"};
	std::string ids;
	for (auto &a : arrays_) {
		argv.push_back(a.id);
		ids += (ids.empty() ? "" : ", ") + a.id;
	}
	auto r = run_engine_cmd(s_, argv);
	if (r.exit != 0)
		return "scancel " + ids + " failed: " + r.err;
	return "cancelled Slurm job" + std::string(arrays_.size() > 1 ? "s " : " ") + ids;
}

} // namespace pach::runner
