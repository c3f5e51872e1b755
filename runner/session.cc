#include "runner/session.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "porcelain/maint.h"
#include "porcelain/pipeline.h"
#include "runner/cron.h"

#include <sys/mount.h>

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <set>

namespace pach::runner {

namespace {

// The mount points at or under dir, from the mount table (which escapes
// spaces and such as \ooo).
std::vector<std::string> mounts_under(const std::string &dir)
{
	std::vector<std::string> under;
	std::ifstream mounts("/proc/self/mounts");
	std::string src, at, rest;
	while (mounts >> src >> at && std::getline(mounts, rest)) {
		std::string path;
		for (size_t i = 0; i < at.size(); i++) {
			if (at[i] == '\\' && i + 3 < at.size() && at[i + 1] >= '0' && at[i + 1] <= '3') {
				path += (char)((at[i + 1] - '0') * 64 + (at[i + 2] - '0') * 8 + (at[i + 3] - '0'));
				i += 3;
			} else {
				path += at[i];
			}
		}
		if (path.compare(0, dir.size() + 1, dir + "/") == 0)
			under.push_back(path);
	}
	return under;
}

} // namespace

RunLock::RunLock(Store &s)
{
	mkdir_p(s.path("pach"));
	lock_ = std::make_unique<FileLock>(s.path("pach/run.lock"), FileLock::exclusive, false);
	if (!lock_->held()) {
		fmt::print(stderr, "waiting for another 'pach run' in this store to finish...\n");
		lock_ = std::make_unique<FileLock>(s.path("pach/run.lock"), FileLock::exclusive, true);
	}
	std::string work = s.path("pach/work");
	auto under = mounts_under(work);
	for (auto it = under.rbegin(); it != under.rend(); ++it)
		umount2(it->c_str(), MNT_DETACH);
	remove_tree(work);
}

bool run_session(Store &s, const SessionOptions &o,
		 const std::function<void(const PipelineSpec &, const JobRecord &)> &report)
{
	auto all = porcelain::pipelines_in_dag_order(s);
	std::set<std::string> want(o.pipelines.begin(), o.pipelines.end());
	for (auto &n : want) {
		bool found = false;
		for (auto &p : all)
			found |= p.spec.name == n;
		if (!found)
			die("pipeline '{}' not found", n);
	}
	std::unique_ptr<RunLock> lock;
	if (!o.run.dry_run)
		lock = std::make_unique<RunLock>(s);
	bool failed = false;
	for (auto &p : all) {
		if (!want.empty() && !want.count(p.spec.name))
			continue;
		if (!o.run.dry_run)
			commit_due_ticks(s, p.spec, o.now);
		auto job = run_pipeline(s, p.spec, p.salt, o.run);
		failed |= job.state == JobState::failure;
		report(p.spec, job);
	}
	if (!o.run.dry_run)
		porcelain::auto_repack(s);
	return failed;
}

} // namespace pach::runner
