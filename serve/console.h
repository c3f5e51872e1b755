// The web console of `pach serve`: static pages built into the binary
// (/console/, no CDN, no build step) over a read-only JSON API (/api/v1/):
// repos and branches, commit logs, diffs, file trees and contents,
// pipelines, jobs, datums, their logs, and where an output file came
// from; /api/v1/events tells a page when anything moved (server-sent
// events).  Access: anonymous when the server allows it, else HTTP Basic
// with the server's key pair (over TLS for anything but loopback).
#pragma once

#include "plumbing/store.h"
#include "remote/sigv4.h"
#include "serve/http.h"

#include <optional>

namespace pach::serve {

class Console {
public:
	Console(Store &s, bool anonymous, std::optional<remote::Credentials> creds)
		: s_(s), anonymous_(anonymous), creds_(std::move(creds))
	{
	}
	// Whether the path is the console's ("/console...", "/api/v1/...").
	static bool owns(const std::string &path);
	static std::string op_of(const Request &r);
	std::unique_ptr<Exchange> start(const Request &r);

private:
	Store &s_;
	bool anonymous_;
	std::optional<remote::Credentials> creds_;
	Response api(const Request &r);
	Response events(const Request &r);
	std::string state_version();
};

} // namespace pach::serve
