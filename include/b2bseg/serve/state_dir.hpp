// The folder of `serve --state DIR` (SPEC 7): the last snapshot and the log of the batches
// after it, locked for one server at a time.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/output/writer.hpp"
#include "b2bseg/serve/batch_log.hpp"
#include "b2bseg/snapshot/snapshot.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

/// `DIR/snapshot.b2bs` (a snapshot with its serve point: the batch number and `now` it holds)
/// and `DIR/changes.log` (the batches after it). A batch is durable once `append` returns; a
/// snapshot replaces the log only after it is itself on disk, so a crash at any moment leaves
/// the snapshot and a log whose batches after the snapshot's number are exactly the ones
/// answered (plus, perhaps, one whole batch that was written but not answered).
class state_dir {
 public:
  /// Opens folder `dir`, creating it when absent, and locks it for this process. Throws
  /// data_error naming it when it cannot be created or another server holds it.
  explicit state_dir(std::string dir) : dir_(std::move(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw data_error(dir_, 0, 0, "cannot create folder: " + ec.message());
    try {
      lock_ = std::make_unique<folder_lock>(dir_);
    } catch (const data_error&) {
      throw data_error(dir_, 0, 0, "another b2bseg serve holds this state folder");
    }
  }

  const std::string& dir() const noexcept { return dir_; }
  std::string snapshot_path() const { return dir_ + "/snapshot.b2bs"; }
  std::string log_path() const { return dir_ + "/changes.log"; }

  /// Whether a snapshot was written here before (then it, not `--data`, is the data).
  bool has_snapshot() const {
    struct stat st {};
    return ::stat(snapshot_path().c_str(), &st) == 0;
  }

  /// Maps the snapshot; `point` gets where it stands. Throws data_error naming the file for a
  /// damaged snapshot or one without a serve point.
  graph open(snapshot_point& point) const {
    snapshot_info info;
    graph g = open_snapshot(snapshot_path(), &info);
    if (!info.point)
      throw data_error(snapshot_path(), 0, 0,
                       "a snapshot without a serve point: not written by b2bseg serve");
    point = *info.point;
    return g;
  }

  /// The logged batches after `seq` (those at or before it are in the snapshot), in order, the
  /// torn tail of the log cut off (`dropped` gets its bytes). Throws data_error naming the log
  /// for a gap after `seq` or a damaged log.
  std::vector<logged_batch> recover(std::uint64_t seq, std::uint64_t& dropped) const {
    log_contents c = batch_log::recover(log_path());
    dropped = c.dropped_bytes;
    std::vector<logged_batch> out;
    for (auto& b : c.batches) {
      if (b.seq <= seq) continue;
      const std::uint64_t want = out.empty() ? seq + 1 : out.back().seq + 1;
      if (b.seq != want)
        throw data_error(log_path(), 0, 0,
                         "batch " + std::to_string(b.seq) + " where batch " + std::to_string(want) +
                             " belongs: the log does not follow the "
                             "snapshot (was the folder mixed with another?)");
      out.push_back(std::move(b));
    }
    return out;
  }

  /// Opens the log for appending (call after `recover`).
  void open_log() { log_ = std::make_unique<batch_log>(log_path()); }

  /// Appends batch `seq` and flushes it to disk. Throws data_error (then nothing is logged).
  void append(std::uint64_t seq, std::string_view feed) { log_->append(seq, feed); }
  /// `append` in two halves, so that the flush can overlap other work: `write` (throws
  /// data_error, then nothing is logged), then `flush` (throws data_error: the disk refused).
  void write(std::uint64_t seq, std::string_view feed) { log_->write(seq, feed); }
  void flush() { log_->flush(); }

  /// Writes `g` as the snapshot at `point` (aside, flushed, renamed into place, the folder
  /// flushed), with `sources` (see `write_snapshot`), then empties the log. Throws data_error;
  /// what was here stays valid.
  void save(const graph& g, snapshot_point point, const std::string* sources = nullptr) {
    write_snapshot(g, snapshot_path(), &point, sources);
    detail::sync_folder(dir_, false);
    if (log_) log_->reset();
  }

 private:
  std::string dir_;
  std::unique_ptr<folder_lock> lock_;
  std::unique_ptr<batch_log> log_;
};

}  // namespace b2bseg
