// What `b2bseg serve` answers (SPEC 7), without the transport: look-ups of profiles, segments,
// members, why and membership changes, and change batches applied one at a time, durably when a
// state folder is attached. The HTTP layer (serve/http.hpp) hands requests to `handle`.
#pragma once

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/detail/json.hpp"
#include "b2bseg/inspect/why.hpp"
#include "b2bseg/live/engine.hpp"
#include "b2bseg/live/feed.hpp"
#include "b2bseg/live/stream.hpp"
#include "b2bseg/output/writer.hpp"
#include "b2bseg/serve/state_dir.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

/// How a service starts and what it keeps.
struct serve_options {
  timestamp_us as_of = 0;               ///< `now` at the start (a snapshot's point overrides it)
  std::uint64_t first_seq = 0;          ///< the number of the last batch the start data holds
  unsigned threads = 0;                 ///< evaluation threads; 0 = all cores
  std::string token;                    ///< when set, every request but health needs `Bearer TOKEN`
  std::uint64_t snapshot_every = 1000;  ///< with a state folder: a snapshot after this many batches
  std::size_t history_bytes = std::size_t{64} << 20;  ///< membership changes kept for `since`
  /// The dataset folder the start data was loaded from, and whether leniently: the source rows
  /// of entities with sources are read from it again, unless the data is a snapshot that
  /// carries them (see `live_rows`).
  std::string dataset;
  bool load_lenient = false;
};

/// A request as the transport read it. Views: valid for the call.
struct serve_request {
  std::string_view method;         ///< "GET", "POST", ...
  std::string_view target;         ///< the path and query as sent, percent-encoded
  std::string_view authorization;  ///< the Authorization header; empty when absent
  std::string_view body;
};

/// The answer: a status, a content type, a body, extra headers.
struct serve_reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

namespace detail::serve {

/// `{"error": MESSAGE}` (plus `, "line": N` for a change) with a status.
inline serve_reply error_reply(int status, std::string_view message, std::size_t line = 0) {
  serve_reply r;
  r.status = status;
  r.body = "{\"error\": ";
  append_json_string(r.body, message);
  if (line) r.body += ", \"line\": " + std::to_string(line);
  r.body += "}\n";
  return r;
}

/// Decodes one percent-encoded path segment; nothing for a bad escape. `+` stays `+`.
inline std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int a = hex(s[i + 1]), b = hex(s[i + 2]);
    if (a < 0 || b < 0) return std::nullopt;
    out += static_cast<char>(a * 16 + b);
    i += 2;
  }
  return out;
}

/// SHA-256 of `s` (32 bytes), so that tokens of any length compare in constant time.
inline std::string sha256(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return std::string(reinterpret_cast<const char*>(md), len);
}

/// One batch's membership changes as `GET /v1/changes` answers them.
struct history_entry {
  std::uint64_t seq = 0;
  std::size_t lines = 0;
  std::shared_ptr<const std::string> text;  ///< shared, so a reader copies it outside the lock
};

}  // namespace detail::serve

/// The served dataset: two live engines holding the same batches (left-right: readers read one
/// while the writer applies the next batch to the other, then they swap), a writer thread that
/// applies batches in order, and the membership changes of recent batches.
///
/// Reads never wait for a batch: a reader takes a shared lock on the engine readers are pointed
/// at, which the writer locks only after pointing readers at the other one. A read sees whole
/// batches, and a read that starts after a batch was answered sees it. Cost: twice the memory
/// of one live engine and twice the work per batch (the second application runs after the
/// answer, or before the next batch). Thread-safe: `handle` from any number of threads.
class service {
  struct side {
    mutable std::shared_mutex mu;
    std::unique_ptr<live_engine> engine;
  };

  // Runs f(engine) on the engine readers are pointed at, under its shared lock. A lock refused
  // means the writer took that engine after pointing readers at the other: look again.
  template <class F>
  auto read(F&& f) const {
    for (int tries = 0;; ++tries) {
      const int i = read_.load(std::memory_order_acquire);
      std::shared_lock<std::shared_mutex> lk(sides_[i].mu, std::defer_lock);
      if (tries < 64 ? lk.try_lock() : (lk.lock(), true)) return f(*sides_[i].engine);
      std::this_thread::yield();
    }
  }

 public:
  /// Builds both engines over `base` (shared, never changed) and `file` (compiled against its
  /// schema), evaluating every segment as of `o.as_of`, and starts the writer thread. With
  /// `state`, batches are logged there before they are answered; call `replay` for the batches
  /// its log holds and then `open_log` before serving; a state folder without a snapshot gets
  /// `base` as its first one (with the source rows of a dataset with sources), so that a
  /// restart never needs the dataset again. Throws data_error when the engines cannot be built
  /// (a dataset with sources whose source rows neither `base` nor `o.dataset` gives) or the
  /// first snapshot cannot be written.
  service(std::shared_ptr<const graph> base, std::shared_ptr<const bound_file> file,
          serve_options o, std::unique_ptr<state_dir> state = nullptr)
      : schema_(base->schema()),
        file_(std::move(file)),
        opts_(std::move(o)),
        state_(std::move(state)),
        parser_(schema_) {
    const live_options lo{.as_of = opts_.as_of,
                          .lenient = false,
                          .threads = opts_.threads,
                          .dataset = opts_.dataset,
                          .load_lenient = opts_.load_lenient};
    // Both engines at once: each reads every row into texts (most of the start time).
    std::exception_ptr failed;
    std::thread second([&] {
      try {
        sides_[1].engine = std::make_unique<live_engine>(base, file_, lo);
      } catch (...) {
        failed = std::current_exception();
      }
    });
    try {
      sides_[0].engine = std::make_unique<live_engine>(base, file_, lo);
    } catch (...) {
      second.join();
      throw;
    }
    second.join();
    if (failed) std::rethrow_exception(failed);
    if (state_ && !state_->has_snapshot())
      save_state(*base, *sides_[0].engine, {opts_.first_seq, opts_.as_of});
    if (opts_.token.size()) token_hash_ = detail::serve::sha256(opts_.token);
    history_floor_ = opts_.first_seq;
    writer_ = std::thread([this] { write_loop(); });
  }
  service(const service&) = delete;
  service& operator=(const service&) = delete;
  ~service() { shutdown(false); }

  /// The dataset's schema (the service's own copy: an engine's changes at compaction).
  const schema& data_schema() const noexcept { return schema_; }
  const bound_file& segments() const noexcept { return *file_; }

  /// The number of the last batch applied. O(1).
  std::uint64_t seq() const {
    return read([this](const live_engine& e) { return opts_.first_seq + e.current()->batch; });
  }

  /// Applies a batch from the state folder's log again, not logging it. Throws data_error when
  /// it cannot apply or would take another number than `b.seq`.
  void replay(const logged_batch& b) {
    serve_reply r = submit(b.feed, false, false);
    if (r.status != 200)
      throw data_error(state_ ? state_->log_path() : std::string("log"), 0, 0,
                       "batch " + std::to_string(b.seq) + " cannot be applied again: " + r.body);
    if (seq() != b.seq)
      throw data_error(state_ ? state_->log_path() : std::string("log"), 0, 0,
                       "batch " + std::to_string(b.seq) + " took number " + std::to_string(seq()));
  }

  /// Starts logging batches (after `replay`). No-op without a state folder.
  void open_log() {
    if (state_) state_->open_log();
  }

  /// Applies `feed` (NDJSON changes, SPEC 2.4) as one batch, logged first when a state folder
  /// is attached; blocks until it is applied and readers see it. The reply is that of
  /// `POST /v1/changes`. Thread-safe; batches apply in the order they arrive.
  serve_reply apply(std::string feed) { return submit(std::move(feed), true, false); }

  /// Moves `now` to the current time as one batch, when the clock is past it (`--follow-clock`).
  serve_reply follow_clock() { return submit({}, true, true); }

  /// Answers one request (SPEC 7): routing by exact path, the bearer token, the JSON errors.
  /// Never throws (an unexpected failure is a 500 whose detail goes to `log_error`).
  serve_reply handle(const serve_request& rq) {
    try {
      return route(rq);
    } catch (const std::bad_alloc&) {
      return detail::serve::error_reply(503, "out of memory");
    } catch (const std::exception& e) {
      if (log_error) log_error(e.what());
      return detail::serve::error_reply(500, "internal error");
    }
  }

  /// Takes `rq` as a change batch without waiting for it, when it is one: `POST /v1/changes`
  /// with the token when one is needed. Then `reply` gets the batch's answer (the one `handle`
  /// would return) from the writer thread once the batch is applied and logged, or at once when
  /// the service is stopping, and the result is true; `reply` must not block (a transport hands
  /// the answer to its own threads). Otherwise nothing is done and the result is false: answer
  /// `rq` with `handle`. Thread-safe; batches apply in the order they arrive, whichever call
  /// took them.
  bool submit_batch(const serve_request& rq, std::function<void(serve_reply)> reply) {
    if (rq.method != "POST" || rq.target.substr(0, rq.target.find('?')) != "/v1/changes" ||
        !authorized(rq.authorization))
      return false;
    auto j = std::make_unique<job>();
    j->feed = std::string(rq.body);
    j->then = std::move(reply);
    {
      std::lock_guard<std::mutex> lk(qmu_);
      if (!stopping_) {
        queue_.push_back(std::move(j));
        j = nullptr;
      }
    }
    if (j) {
      j->answer(detail::serve::error_reply(503, "the server is shutting down"));
      return true;
    }
    qcv_.notify_all();
    return true;
  }

  /// Whether answering `rq` may wait or take long: a change batch (it waits for the writer and
  /// the log's flush), member lists, the change history, explanations. A transport answers
  /// those off the threads that watch its connections. A hint only: any request may be
  /// answered anywhere. O(length of the target).
  static bool may_block(const serve_request& rq) noexcept {
    if (rq.method != "GET" && rq.method != "HEAD") return true;
    const std::string_view path = rq.target.substr(0, rq.target.find('?'));
    return path.starts_with("/v1/changes") || path.ends_with("/members") ||
           path.find("/why/") != std::string_view::npos;
  }

  /// Stops taking batches (later ones get 503), finishes the one in hand, brings both engines
  /// to it and, with a state folder and `snapshot`, writes the snapshot. Idempotent. Throws
  /// data_error when the snapshot cannot be written (the log still holds every batch).
  void shutdown(bool snapshot = true) {
    {
      std::lock_guard<std::mutex> lk(qmu_);
      if (stopping_) return;
      stopping_ = true;
    }
    qcv_.notify_all();
    if (writer_.joinable()) writer_.join();
    if (snapshot && state_ && !broken_) save_snapshot();
  }

  /// Where unexpected failures are reported (the server's log); may be empty.
  std::function<void(const std::string&)> log_error;

 private:
  struct job {
    std::string feed;
    bool log = true, clock = false;
    std::promise<serve_reply> done;
    std::function<void(serve_reply)> then;  ///< when set, the answer goes here, not to `done`

    void answer(serve_reply r) {
      if (then)
        then(std::move(r));
      else
        done.set_value(std::move(r));
    }
  };

  // --- reading -------------------------------------------------------------------------------

  serve_reply route(const serve_request& rq) {
    using detail::serve::error_reply;
    std::string_view path = rq.target, query;
    if (auto q = path.find('?'); q != std::string_view::npos) {
      query = path.substr(q + 1);
      path = path.substr(0, q);
    }
    std::vector<std::string> parts;
    if (path.empty() || path[0] != '/') return error_reply(404, "no such path");
    for (std::size_t start = 1;;) {
      const std::size_t slash = path.find('/', start);
      auto seg = detail::serve::percent_decode(path.substr(start, slash - start));
      if (!seg) return error_reply(400, "bad percent-encoding in the path");
      if (seg->empty()) return error_reply(404, "no such path");
      if (!simdjson::validate_utf8(seg->data(), seg->size()))
        return error_reply(400, "the path is not valid UTF-8");
      parts.push_back(std::move(*seg));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    const std::size_t n = parts.size();
    if (n < 2 || parts[0] != "v1") return error_reply(404, "no such path");
    const std::string& what = parts[1];
    enum class ep { health, segments, members, profile, why, changes, none } e = ep::none;
    if (what == "health" && n == 2) e = ep::health;
    if (what == "segments" && n == 2) e = ep::segments;
    if (what == "segments" && n == 4 && parts[3] == "members") e = ep::members;
    if (what == "profiles" && n == 4) e = ep::profile;
    if (what == "profiles" && n == 6 && parts[4] == "why") e = ep::why;
    if (what == "changes" && n == 2) e = ep::changes;
    if (e == ep::none) return error_reply(404, "no such path");

    const bool post = e == ep::changes && rq.method == "POST";
    if (!post && rq.method != "GET" && rq.method != "HEAD") {
      serve_reply r = error_reply(405, "method not allowed");
      r.headers.emplace_back("Allow", e == ep::changes ? "GET, POST" : "GET");
      return r;
    }
    if (e != ep::health && !authorized(rq.authorization)) {
      serve_reply r = error_reply(401, "a bearer token is needed (Authorization: Bearer TOKEN)");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    switch (e) {
      case ep::health:
        return health();
      case ep::segments:
        return list_segments();
      case ep::members:
        return members(parts[2]);
      case ep::profile:
        return profile(parts[2], parts[3]);
      case ep::why:
        return why(parts[2], parts[3], parts[5]);
      case ep::changes:
        if (post) return apply(std::string(rq.body));
        return changes_since(query);
      case ep::none:
        break;
    }
    return error_reply(404, "no such path");
  }

  bool authorized(std::string_view header) const {
    if (token_hash_.empty()) return true;
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() < scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(header[i])) !=
          std::tolower(static_cast<unsigned char>(scheme[i])))
        return false;
    const std::string given = detail::serve::sha256(header.substr(scheme.size()));
    return CRYPTO_memcmp(given.data(), token_hash_.data(), given.size()) == 0;
  }

  serve_reply health() const {
    serve_reply r;
    if (broken_) r.status = 503;  // reads still answer; batches cannot be taken
    r.body = std::string("{\"status\": ") + (broken_ ? "\"broken\"" : "\"ok\"") +
             ", \"seq\": " + std::to_string(seq()) + "}\n";
    return r;
  }

  serve_reply list_segments() const {
    auto st = read([](const live_engine& e) { return e.current(); });
    serve_reply r;
    r.body = "[";
    for (std::size_t i = 0; i < st->segments.size(); ++i) {
      const auto& s = st->segments[i];
      r.body += i ? ",\n " : "";
      r.body += "{\"name\": ";
      detail::append_json_string(r.body, s.name);
      r.body += ", \"entity\": ";
      detail::append_json_string(r.body, data_schema().entities[s.entity].name);
      r.body += ", \"count\": " + std::to_string(s.members->cardinality()) + "}";
    }
    r.body += "]\n";
    return r;
  }

  serve_reply members(const std::string& name) const {
    const int i = file_->find(name);
    if (i < 0) return detail::serve::error_reply(404, "no segment '" + name + "'");
    auto st = read([](const live_engine& e) { return e.current(); });
    const auto& s = st->segments[static_cast<std::size_t>(i)];
    const auto& key = data_schema().entities[s.entity].key;
    if (!key)
      return detail::serve::error_reply(
          404, "segment '" + name + "' is on an entity without a key: it has no member list");
    serve_reply r;
    r.content_type = "text/csv";
    append_csv_field(r.body, *key);
    r.body += '\n';
    for (auto it = s.members->begin(); it != s.members->end(); ++it) {
      append_csv_field(r.body, st->key(s.entity, *it));
      r.body += '\n';
    }
    return r;
  }

  // The entity named `name` when it has a key, or the 404 that says why not.
  std::variant<entity_id, serve_reply> keyed_entity(const std::string& name) const {
    const auto& s = data_schema();
    for (entity_id e = 0; e < s.entities.size(); ++e)
      if (s.entities[e].name == name) {
        if (!s.entities[e].key)
          return detail::serve::error_reply(404, "entity '" + name + "' has no key: no profiles");
        return e;
      }
    return detail::serve::error_reply(404, "no entity '" + name + "'");
  }

  serve_reply profile(const std::string& entity, const std::string& key) const {
    auto ent = keyed_entity(entity);
    if (auto* r = std::get_if<serve_reply>(&ent)) return std::move(*r);
    const entity_id e = std::get<entity_id>(ent);
    return read([&](const live_engine& en) {
      const row_id r = en.rows().find(e, key);
      if (r == no_row) return detail::serve::error_reply(404, "no " + entity + " '" + key + "'");
      auto st = en.current();
      serve_reply out;
      std::string& b = out.body;
      b = "{\"entity\": ";
      detail::append_json_string(b, entity);
      b += ", \"key\": ";
      detail::append_json_string(b, key);
      b += ", \"segments\": [";
      bool first = true;
      // The engine's flat sets, not the state's Roaring members: a bit test per segment
      // instead of a search (the same answer: this engine is not written while read).
      for (std::size_t k = 0; k < st->segments.size(); ++k) {
        const auto& s = st->segments[k];
        if (s.entity != e || !en.in_segment(k, r)) continue;
        if (!first) b += ", ";
        first = false;
        detail::append_json_string(b, s.name);
      }
      b += "], \"attributes\": {";
      const auto& def = data_schema().entities[e];
      for (std::uint32_t a = 0; a < def.attributes.size(); ++a) {
        if (a) b += ", ";
        detail::append_json_string(b, def.attributes[a].name);
        b += ": ";
        b += value_json_at(en.view(), e, a, r);
      }
      b += "}}\n";
      return out;
    });
  }

  serve_reply why(const std::string& entity, const std::string& key,
                  const std::string& segment) const {
    auto ent = keyed_entity(entity);
    if (auto* r = std::get_if<serve_reply>(&ent)) return std::move(*r);
    const entity_id e = std::get<entity_id>(ent);
    const int i = file_->find(segment);
    if (i < 0) return detail::serve::error_reply(404, "no segment '" + segment + "'");
    const auto seg = static_cast<std::uint32_t>(i);
    if (file_->segments[seg].entity != e)
      return detail::serve::error_reply(
          404, "segment '" + segment + "' is on entity '" +
                   data_schema().entities[file_->segments[seg].entity].name + "', not '" + entity +
                   "'");
    return read([&](const live_engine& en) {
      const row_id r = en.rows().find(e, key);
      if (r == no_row) return detail::serve::error_reply(404, "no " + entity + " '" + key + "'");
      serve_reply out;
      out.body = why_json(explain_membership_in(en.view(), *file_, seg, r, en.rows().now()));
      return out;
    });
  }

  serve_reply changes_since(std::string_view query) const {
    using detail::serve::error_reply;
    std::optional<std::uint64_t> since;
    std::uint64_t limit = 10000;
    for (std::size_t start = 0; start <= query.size() && !query.empty();) {
      std::size_t amp = query.find('&', start);
      if (amp == std::string_view::npos) amp = query.size();
      const std::string_view kv = query.substr(start, amp - start);
      start = amp + 1;
      if (kv.empty()) continue;
      const std::size_t eq = kv.find('=');
      const std::string_view k = kv.substr(0, eq);
      const std::string_view v = eq == std::string_view::npos ? "" : kv.substr(eq + 1);
      std::uint64_t x = 0;
      const bool number = !v.empty() && v.size() <= 19 &&
                          v.find_first_not_of("0123456789") == std::string_view::npos &&
                          (x = std::stoull(std::string(v)), true);
      if (k == "since" && number) {
        since = x;
      } else if (k == "limit" && number && x >= 1) {
        limit = x;
      } else {
        return error_reply(400,
                           "query: expected since=SEQ and optionally limit=N (N >= 1), "
                           "both whole numbers");
      }
      if (amp == query.size()) break;
    }
    if (!since) return error_reply(400, "query: since=SEQ is required");
    // Whole batches only, so that a client can go on from the last seq it saw; at least one.
    std::vector<std::shared_ptr<const std::string>> texts;
    {
      std::lock_guard<std::mutex> lk(hmu_);
      if (*since < history_floor_)
        return error_reply(410, "the changes after seq " + std::to_string(*since) +
                                    " are no longer kept (the oldest kept follow seq " +
                                    std::to_string(history_floor_) + "); read the members again");
      std::size_t lines = 0;
      auto it = std::upper_bound(history_.begin(), history_.end(), *since,
                                 [](std::uint64_t s, const auto& h) { return s < h.seq; });
      for (; it != history_.end(); ++it) {
        if (lines && lines + it->lines > limit) break;
        texts.push_back(it->text);
        lines += it->lines;
      }
    }
    serve_reply r;
    r.content_type = "application/x-ndjson";
    for (const auto& t : texts) r.body += *t;
    return r;
  }

  // --- writing -------------------------------------------------------------------------------

  serve_reply submit(std::string feed, bool log, bool clock) {
    auto j = std::make_unique<job>();
    j->feed = std::move(feed);
    j->log = log;
    j->clock = clock;
    auto done = j->done.get_future();
    {
      std::lock_guard<std::mutex> lk(qmu_);
      if (stopping_) return detail::serve::error_reply(503, "the server is shutting down");
      queue_.push_back(std::move(j));
    }
    qcv_.notify_all();
    return done.get();
  }

  void write_loop() {
    for (;;) {
      std::unique_ptr<job> j;
      {
        std::unique_lock<std::mutex> lk(qmu_);
        // With nothing queued, bring the other engine up to date first.
        while (queue_.empty() && !stopping_ && !pending_.empty() && !broken_) {
          lk.unlock();
          try {
            catch_up_other();
          } catch (const std::exception& e) {
            if (log_error) log_error(e.what());
          }
          lk.lock();
        }
        qcv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;  // stopping, nothing left
        j = std::move(queue_.front());
        queue_.pop_front();
        if (stopping_) {
          j->answer(detail::serve::error_reply(503, "the server is shutting down"));
          continue;
        }
      }
      serve_reply r;
      try {
        r = broken_
                ? detail::serve::error_reply(503, "the server cannot take batches: " + broken_msg_)
                : process(*j);
      } catch (const std::exception& e) {
        r = detail::serve::error_reply(500, "internal error");
        if (log_error) log_error(e.what());
      }
      const bool logged = j->log;
      j->answer(std::move(r));
      // Only after a logged batch: a snapshot during the replay would empty the log of the
      // batches still to replay (and race with `open_log`).
      if (logged && !broken_ && state_ && opts_.snapshot_every &&
          since_snapshot_ >= opts_.snapshot_every) {
        try {
          save_snapshot();
        } catch (const std::exception& e) {
          if (log_error) log_error(std::string("snapshot not written: ") + e.what());
          since_snapshot_ = 0;  // try again after as many batches; the log keeps them all
        }
      }
    }
    // Fail whatever is left.
    std::lock_guard<std::mutex> lk(qmu_);
    for (auto& j : queue_)
      j->answer(detail::serve::error_reply(503, "the server is shutting down"));
    queue_.clear();
  }

  // Applies the batch the engine readers are not pointed at lacks. Writer thread only.
  void catch_up_other() {
    if (pending_.empty()) return;
    side& s = sides_[1 - read_.load(std::memory_order_relaxed)];
    std::unique_lock<std::shared_mutex> lk(s.mu);
    const batch_result r = s.engine->apply(pending_);
    pending_.clear();
    if (r.failed()) fail_hard("the second engine refused a batch the first applied");
  }

  [[noreturn]] void fail_hard(const std::string& why) {
    broken_ = true;
    broken_msg_ = why;
    throw std::logic_error(why);
  }

  // Writes the snapshot of the current batch from the engine readers are not pointed at (after
  // bringing it level), then empties the log. Writer thread only (or after it stopped).
  void save_snapshot() {
    catch_up_other();
    const live_engine& en = *sides_[1 - read_.load(std::memory_order_relaxed)].engine;
    save_state(en.rows().build(), en, {opts_.first_seq + en.current()->batch, en.rows().now()});
    since_snapshot_ = 0;
  }

  // Writes `g`, the rows of `en` as a graph, as the state folder's snapshot at `point`, with the
  // source rows changes need (none for a dataset without sources).
  void save_state(const graph& g, const live_engine& en, snapshot_point point) {
    const std::string sources = en.rows().save_sources(g);
    state_->save(g, point, &sources);
  }

  serve_reply process(job& j) {
    using detail::serve::error_reply;
    std::string clock_line;
    if (j.clock) {
      const auto wall = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
      const timestamp_us now = read([](const live_engine& e) { return e.rows().now(); });
      if (wall <= now) return no_batch();
      j.feed = "{\"op\": \"tick\", \"now\": \"" + format_timestamp(wall) + "\"}\n";
    }
    // Parse every line first: a bad one refuses the batch before anything is touched.
    std::vector<change> batch;
    std::string_view rest = j.feed;
    for (std::size_t line_no = 1; !rest.empty(); ++line_no) {
      std::size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      auto parsed = parser_.parse(line, line_no);
      if (auto* e = std::get_if<change_error>(&parsed))
        return error_reply(400, "line " + std::to_string(e->line) + ": " + e->message, e->line);
      change& c = std::get<change>(parsed);
      if (c.op != change_op::commit) batch.push_back(std::move(c));
    }
    if (batch.empty()) return no_batch();

    const int w = 1 - read_.load(std::memory_order_relaxed);
    side& s = sides_[w];
    std::unique_lock<std::shared_mutex> lk(s.mu);
    if (!pending_.empty()) {
      const batch_result r = s.engine->apply(pending_);
      pending_.clear();
      if (r.failed()) fail_hard("the second engine refused a batch the first applied");
    }
    if (auto err = s.engine->check(batch))
      return error_reply(400, "line " + std::to_string(err->line) + ": " + err->message, err->line);
    const std::uint64_t seq = opts_.first_seq + s.engine->current()->batch + 1;
    // Logged before it is applied; the flush to disk runs while the engine applies it, and
    // the batch is published and answered only once both are done.
    std::future<void> flushed;
    if (j.log && state_) {
      try {
        state_->write(seq, j.feed);
      } catch (const data_error& e) {
        if (log_error) log_error(e.what());
        return error_reply(503,
                           "the batch could not be written to the change log; nothing "
                           "applied");
      }
      flushed = std::async(std::launch::async, [this] { state_->flush(); });
    }
    batch_result r = s.engine->apply(batch);
    if (flushed.valid()) {
      try {
        flushed.get();
      } catch (const data_error& e) {
        // Applied to the engine nobody reads, but not durable: never published. The engines
        // now differ, so no batch can be taken any more; reads go on.
        broken_msg_ = std::string("the change log cannot be flushed: ") + e.what();
        broken_ = true;
        if (log_error) log_error(broken_msg_);
        return error_reply(503, "the batch could not be flushed to disk; nothing applied");
      }
    }
    if (r.failed())  // checked above: only an engine failure can get here, after logging
      fail_hard("a checked batch failed: " +
                (r.errors.empty() ? std::string("?") : r.errors.front().message));
    lk.unlock();
    read_.store(w, std::memory_order_release);
    pending_ = std::move(batch);
    since_snapshot_ += j.log;
    remember(r, seq);
    serve_reply out;
    out.body = "{\"seq\": " + std::to_string(seq) + ", \"applied\": " + std::to_string(r.applied) +
               ", \"entered\": " + std::to_string(r.entered) +
               ", \"exited\": " + std::to_string(r.exited) + "}\n";
    return out;
  }

  serve_reply no_batch() const {
    serve_reply out;
    out.body =
        "{\"seq\": " + std::to_string(seq()) + ", \"applied\": 0, \"entered\": 0, \"exited\": 0}\n";
    return out;
  }

  // Keeps the batch's membership changes for `GET /v1/changes`, the oldest dropped past the
  // history's size.
  void remember(const batch_result& r, std::uint64_t seq) {
    std::string text;
    detail::live::append_batch_lines(text, *file_, r, 0, seq, "seq");
    detail::serve::history_entry h;
    h.seq = seq;
    h.lines = r.changes.size() + 1;
    h.text = std::make_shared<const std::string>(std::move(text));
    std::lock_guard<std::mutex> lk(hmu_);
    history_size_ += h.text->size();
    history_.push_back(std::move(h));
    while (history_size_ > opts_.history_bytes && history_.size() > 1) {
      history_size_ -= history_.front().text->size();
      history_floor_ = history_.front().seq;
      history_.pop_front();
    }
  }

  schema schema_;  // before parser_, which keeps a reference
  std::shared_ptr<const bound_file> file_;
  serve_options opts_;
  std::unique_ptr<state_dir> state_;
  side sides_[2];
  std::atomic<int> read_{0};
  std::string token_hash_;

  // The writer's (one thread).
  change_parser parser_;
  std::vector<change> pending_;  ///< the last batch, not yet applied to the other engine
  std::uint64_t since_snapshot_ = 0;
  std::atomic<bool> broken_{false};
  std::string broken_msg_;

  std::mutex qmu_;
  std::condition_variable qcv_;
  std::deque<std::unique_ptr<job>> queue_;
  bool stopping_ = false;
  std::thread writer_;

  mutable std::mutex hmu_;
  std::deque<detail::serve::history_entry> history_;
  std::size_t history_size_ = 0;
  std::uint64_t history_floor_ = 0;  ///< changes after it are kept
};

}  // namespace b2bseg
