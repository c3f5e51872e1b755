// Reflogs, git's format: .pach/logs/<ref>, one line per update,
// "<old> <new> <name> <<email>> <unix> <+zzzz>\t<message>", oldest first.
// libgit2 writes them for every ref update (the store sets
// core.logAllRefUpdates=always); pach adds the line for a deleted ref and
// keeps that ref's log, so a rollback can bring the branch back.
#pragma once

#include "plumbing/oid.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pach {

class Store;

struct ReflogEntry {
	std::optional<Oid> old_oid, new_oid;   // nullopt: the ref did not exist
	std::string who;                       // "Name <email>"
	int64_t when = 0;
	int tz_minutes = 0;
	std::string message;
};

// Oldest first; empty if the ref has no log.
std::vector<ReflogEntry> read_reflog(const Store &s, const std::string &ref);
// Every ref with a log, existing or deleted ("refs/heads/r/master", ...).
std::vector<std::string> logged_refs(const Store &s);
void append_reflog(const Store &s, const std::string &ref, const ReflogEntry &e);
// Drop entries older than cutoff (unix seconds); a deleted ref's log
// that empties goes.  Returns the number of entries dropped.
size_t expire_reflog(const Store &s, const std::string &ref, int64_t cutoff, bool ref_exists);

// The ref's value at time t from its log: the newest entry at or before
// t, else (if the log starts after t) the first entry's old value.
// nullopt inside: the ref did not exist then.  Outer nullopt: no log.
std::optional<std::optional<Oid>> ref_at(const std::vector<ReflogEntry> &log, int64_t t);

// Times as git's approxidate, in the forms people type: "now",
// "yesterday", "2 hours ago" / "2.hours.ago", "2026-11-27",
// "2026-11-27 10:00[:00]" (local time), "2026-11-27T10:00:00Z" or with
// an offset, "@<unix seconds>".  nullopt when not understood.
std::optional<int64_t> parse_time(const std::string &s, int64_t now);
// A duration for expiry settings: "30 days", "30.days", "2 weeks",
// "never" (INT64_MAX), "now" (0), or a number of days.
std::optional<int64_t> parse_duration(const std::string &s);

// Make sure every ref update is logged (old stores predate this).
void ensure_reflogs_enabled(const Store &s);

} // namespace pach
