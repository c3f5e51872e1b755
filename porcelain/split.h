// pachctl's `put file --split`: one input cut into pieces at record
// boundaries (lines, JSON values, CSV rows, rows of a pg_dump COPY), each
// piece a file of its own, so a glob of `/<path>/*` makes each a datum.
#pragma once

#include "plumbing/store.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pach::porcelain {

struct SplitOptions {
	std::string mode;              // line, json, csv or sql ("" = no split)
	uint64_t target_datums = 0;    // records per piece (0: no limit)
	uint64_t target_bytes = 0;     // a piece ends once it holds this many bytes
	uint64_t header_records = 0;   // leading records repeated atop every piece
};

// Reads fd to its end and writes each piece as a blob; pieces in order.
// With neither target, each record is a piece (as Pachyderm).  Records
// are streamed: memory holds the header, not the input.
std::vector<Oid> split_stream(Store &s, ObjectWriter &w, int fd, const std::string &what, const SplitOptions &o);

// The name of piece number n: 16 hex digits, as Pachyderm names them.
std::string piece_name(uint64_t n);

} // namespace pach::porcelain
