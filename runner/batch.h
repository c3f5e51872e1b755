// Datum batching (Pachyderm's transform.datum_batching): one process of
// the user's code serves many datums of a slot, instead of one process per
// datum.  The process asks for each datum and says how the last one went,
// through two FIFOs in a directory named by $PACH_NEXT_DATUM (the
// protocol is in pach-next-datum(1); `pach next-datum` speaks it):
//
//   user code                       pach
//   writes "ok" (or "error MSG")    reads it: the previous datum is done
//   to next
//   reads ready to its end          lays the next datum out at /pfs, opens
//                                   ready, writes the datum's environment
//                                   as `export KEY='VALUE'` lines, closes
//
// When the slot has no datum left, pach stops the process, as Pachyderm
// does.  A process that exits, says "error", or passes datum_timeout
// fails its datum and is started again for the next.
#pragma once

#include "runner/runtime.h"

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace pach::runner {

class Batch {
public:
	// `dir`: a directory of the slot's own for the FIFOs and the log.
	Batch(Runtime &rt, std::string dir);
	~Batch();
	Batch(const Batch &) = delete;
	Batch &operator=(const Batch &) = delete;

	// Where the FIFOs are on this host, and the batch's whole log.
	const std::string &dir() const { return dir_; }
	std::string log_path() const { return dir_ + "/log"; }

	// Runs one datum: starts the process (with `ps`, whose env becomes
	// its environment) if none runs, waits for its first request, hands
	// it `env`, waits for its answer up to `timeout` seconds (<= 0: no
	// limit).  The result reads like a process's: exit 0 for "ok", 1 for
	// "error" (error holds the message), the process's own status if it
	// ended, timed_out.  Any failure stops the process.
	ProcessResult run(const ProcessSpec &ps, const std::map<std::string, std::string> &env, double timeout,
			  std::string &message);
	// Stops the process, if one runs.
	void stop();

private:
	bool start(const ProcessSpec &ps);
	// The next line the process writes to `next`; nullopt when it ended
	// or the time ran out first (timed_out_ says which).
	std::optional<std::string> wait_request(double timeout);
	bool send(const std::string &text, double timeout);

	Runtime &rt_;
	std::string dir_;
	int next_fd_ = -1;
	std::unique_ptr<std::thread> proc_;
	std::atomic<bool> ended_{false}, cancel_{false};
	ProcessResult result_;
	ProcessSpec spec_;
	bool timed_out_ = false;
	std::string pending_;   // read from `next`, not yet a whole line
};

// The environment as `export KEY='VALUE'` lines for the shell's eval.
std::string export_lines(const std::map<std::string, std::string> &env);

} // namespace pach::runner
