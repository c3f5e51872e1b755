// The other half of pach mount: where a writable mount stages its
// changes and how they become commits, and unmounting (which also finds
// the store a mount served from the mount table).
#include "mount/mount.h"
#include "plumbing/crash.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/tree_edit.h"
#include "porcelain/commit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

namespace pach::mount {

std::string stage_dir(const Store &s, const std::string &dir)
{
	std::string abs = absolute_path(dir);
	while (abs.size() > 1 && abs.back() == '/')
		abs.pop_back();
	Sha1 h;
	h.update(abs.data(), abs.size());
	return s.path("pach/mounts/" + h.final().hex().substr(0, 16));
}

std::string mounted_store(const std::string &dir)
{
	std::string abs = absolute_path(dir);
	while (abs.size() > 1 && abs.back() == '/')
		abs.pop_back();
	std::ifstream in("/proc/self/mounts");
	std::string src, at, type, rest;
	// Fields are octal-escaped (a space is \040).
	auto unescape = [](const std::string &x) {
		std::string o;
		for (size_t i = 0; i < x.size(); i++) {
			if (x[i] == '\\' && i + 3 < x.size()) {
				o += (char)std::stoi(x.substr(i + 1, 3), nullptr, 8);
				i += 3;
			} else {
				o += x[i];
			}
		}
		return o;
	};
	while (in >> src >> at >> type && std::getline(in, rest))
		if (type == "fuse.pach" && unescape(at) == abs && src.compare(0, 5, "pach:") == 0)
			return unescape(src.substr(5));
	return "";
}

std::vector<std::string> commit_staged(Store &s, const std::string &dir, const std::string &msg)
{
	std::vector<std::string> out;
	std::string upper = stage_dir(s, dir) + "/upper";
	std::error_code ec;
	if (!is_dir(upper))
		return out;
	for (auto &rd : std::filesystem::directory_iterator(upper, ec)) {
		std::string repo = rd.path().filename().string();
		for (auto &bd : std::filesystem::directory_iterator(rd.path(), ec)) {
			std::string enc = bd.path().filename().string(), branch;
			for (size_t i = 0; i < enc.size(); i++) {
				if (enc[i] == '%' && i + 2 < enc.size()) {
					branch += (char)std::stoi(enc.substr(i + 1, 2), nullptr, 16);
					i += 2;
				} else {
					branch += enc[i];
				}
			}
			std::string root = bd.path().string();
			auto edit = [&](ObjectWriter &w, const std::optional<Oid> &base) {
				std::optional<Oid> t = base;
				std::function<void(const std::string &, const std::vector<std::string> &)> walk =
					[&](const std::string &d, const std::vector<std::string> &path) {
						struct stat st;
						// A directory that hides what the commit has below it.
						if (!path.empty() && ::lstat((d + "/.wh..wh..opq").c_str(), &st) == 0)
							t = edit_tree(s, w, t, path, std::nullopt);
						std::vector<std::string> names;
						std::error_code e2;
						for (auto &x : std::filesystem::directory_iterator(d, e2))
							names.push_back(x.path().filename().string());
						std::sort(names.begin(), names.end());
						for (auto &name : names)
							if (name.compare(0, 4, ".wh.") == 0 && name != ".wh..wh..opq") {
								auto p = path;
								p.push_back(name.substr(4));
								t = edit_tree(s, w, t, p, std::nullopt);
							}
						for (auto &name : names) {
							if (name.compare(0, 4, ".wh.") == 0)
								continue;
							std::string f = d + "/" + name;
							auto p = path;
							p.push_back(name);
							if (::lstat(f.c_str(), &st) < 0)
								continue;
							if (S_ISDIR(st.st_mode)) {
								walk(f, p);
							} else if (S_ISLNK(st.st_mode)) {
								char b[4096];
								ssize_t k = ::readlink(f.c_str(), b, sizeof b);
								if (k >= 0)
									t = edit_tree(s, w, t, p, TreeEntry{name, kModeLink, w.blob(b, (size_t)k)});
							} else if (S_ISREG(st.st_mode)) {
								Fd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
								if (!fd)
									die_errno("unable to read staged '" + f + "'");
								Oid b = w.blob_from_fd(fd.get(), (uint64_t)st.st_size, f);
								t = edit_tree(s, w, t, p,
									      TreeEntry{name, (st.st_mode & S_IXUSR) ? kModeExec : kModeFile, b});
							}
						}
					};
				walk(root, {});
				return t ? *t : w.tree({});
			};
			std::string m = !msg.empty() ? msg : "pach mount: changes to " + repo + "@" + branch;
			auto r = porcelain::commit_edit(s, repo, branch, m + (m.back() == '\n' ? "" : "\n"), edit);
			if (r.commit)
				out.push_back(repo + "@" + branch + " " + r.commit->hex());
			crash_point("mount-committed");   // committed, still staged
			std::filesystem::remove_all(bd.path(), ec);
		}
		std::filesystem::remove(rd.path(), ec);
	}
	return out;
}

void unmount(const std::string &dir)
{
	// fusermount3 knows the mount table and does the privileged part.
	std::string err_path = "/tmp/pach-unmount-" + std::to_string(getpid());
	pid_t pid = fork();
	if (pid < 0)
		die_errno("unable to fork");
	if (pid == 0) {
		int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execlp("fusermount3", "fusermount3", "-u", "--", dir.c_str(), (char *)nullptr);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	std::string msg;
	{
		Fd f(::open(err_path.c_str(), O_RDONLY | O_CLOEXEC));
		char b[1024];
		ssize_t n;
		while (f && (n = ::read(f.get(), b, sizeof b)) > 0)
			msg.append(b, (size_t)n);
		::unlink(err_path.c_str());
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		die("fusermount3 is not installed (Debian: apt-get install fuse3)");
	if (msg.find("busy") != std::string::npos)
		die("'{}' is busy: a process still uses it (see fuser -m {})", dir, dir);
	if (msg.find("not found") != std::string::npos || msg.find("not mounted") != std::string::npos ||
	    msg.find("Invalid argument") != std::string::npos)
		die("'{}' is not mounted", dir);
	while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
		msg.pop_back();
	die("unable to unmount '{}': {}", dir, msg);
}


} // namespace pach::mount
