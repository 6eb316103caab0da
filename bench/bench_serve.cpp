// Serving benchmark (issue 12): `b2bseg serve`'s service and HTTP server in this process on a free
// 127.0.0.1 port, over the bench suite's dataset and segments, driven by clients over real
// sockets. Each benchmark runs for a bounded time (B2BSEG_BENCH_SECONDS, default 5) and reports
// latency percentiles and rates as counters; BM_lookup_without_transport times the service's
// own share of a look-up, without sockets. Every run checks its answers: each look-up is a 200
// naming its key; sampled profiles list exactly the segments an evaluation puts them in; every
// batch is answered with the next number; after the batches, every segment's members equal a
// full evaluation of the changed rows.
//
//   build/bench/bench_serve                                  # 100k people (generated once)
//   B2BSEG_BENCH_PEOPLE=1000000 build/bench/bench_serve      # the scale
#include <b2bseg/b2bseg.hpp>
#include <b2bseg/serve/http.hpp>
#include <b2bseg/serve/service.hpp>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "common.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_from_env() {
  const char* s = std::getenv("B2BSEG_BENCH_SECONDS");
  const double v = s ? std::atof(s) : 5.0;
  return v > 0 ? v : 5.0;
}

int env_int(const char* name, int fallback) {
  const char* s = std::getenv(name);
  return s && *s ? std::atoi(s) : fallback;
}

struct world {
  std::shared_ptr<const b2bseg::graph> g;
  std::shared_ptr<const b2bseg::bound_file> f;
  b2bseg::timestamp_us as_of = 0;
  std::vector<std::string> people;
  b2bseg::evaluation start;  ///< every segment as of `as_of`, before any change
};

world& the_world() {
  static world* w = [] {
    auto* x = new world;
    const bench::dataset& d = bench::cached_dataset(bench::people_from_env(100000));
    x->g = std::make_shared<const b2bseg::graph>(b2bseg::load_dataset(d.dir));
    x->f = std::make_shared<const b2bseg::bound_file>(
        b2bseg::compile_segments(bench::suite_segments_text(), x->g->schema(), "b2bseg_suite.seg"));
    b2bseg::parse_timestamp("2026-11-22T00:00:00Z", x->as_of);
    const b2bseg::entity_id p = x->g->schema().find_entity("person");
    for (b2bseg::row_id r = 0; r < x->g->rows(p); ++r) x->people.emplace_back(x->g->key(p, r));
    x->start = b2bseg::evaluate(*x->g, *x->f, {.as_of = x->as_of, .threads = 0, .segments = {}});
    return x;
  }();
  return *w;
}

/// A service with its HTTP server on a free loopback port, logging to /dev/null (the cost of
/// the log line stays in), with or without a state folder.
class server {
 public:
  explicit server(bool durable) {
    world& w = the_world();
    b2bseg::serve_options so;
    so.as_of = w.as_of;
    so.threads = 2;
    so.snapshot_every = 0;  // only at the end: a snapshot of 1M people takes seconds
    std::unique_ptr<b2bseg::state_dir> st;
    if (durable) {
      dir_ = bench::data_root() / "serve-state";
      std::filesystem::remove_all(dir_);
      st = std::make_unique<b2bseg::state_dir>(dir_.string());
      st->open_log();
    }
    svc_ = std::make_unique<b2bseg::service>(w.g, w.f, so, std::move(st));
    log_ = std::fopen("/dev/null", "w");
    b2bseg::http_options ho;
    ho.port = 0;
    ho.log = log_;
    ho.io_threads = static_cast<unsigned>(env_int("B2BSEG_BENCH_IO_THREADS", 0));
    http_ = std::make_unique<b2bseg::http_server>(*svc_, ho);
    port_ = http_->bind();
    thread_ = std::thread([this] { http_->run(); });
    while (!http_->running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~server() {
    http_->stop();
    thread_.join();
    http_.reset();  // its log thread writes to log_ until it goes
    svc_->shutdown(false);
    std::fclose(log_);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  int port() const { return port_; }
  b2bseg::service& svc() { return *svc_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<b2bseg::service> svc_;
  std::FILE* log_ = nullptr;
  std::unique_ptr<b2bseg::http_server> http_;
  std::thread thread_;
  int port_ = 0;
};

/// Keep-alive HTTP/1.1 connections driven by one thread with epoll, the way wrk and other load
/// generators drive them: a send when a connection's answer is whole, a recv when it is
/// readable, and the thread sleeps only when no connection has an answer. Blocking client
/// threads (one per connection) cost a thread switch per request on the client's side, which
/// on this 2-core VM was most of the CPU the clients took from the server they measure.
class lookup_clients {
 public:
  /// `connections` connections to 127.0.0.1:port; each asks for `target(rng)` again and again.
  lookup_clients(int port, int connections, std::uint64_t seed) : port_(port), rng_(seed) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    conns_.resize(static_cast<std::size_t>(connections));
    for (std::size_t i = 0; i < conns_.size(); ++i) connect(i);
  }
  ~lookup_clients() {
    for (auto& c : conns_) ::close(c.fd);
    ::close(ep_);
  }

  /// Looks up random people until `end`; every answer must be a 200 naming its key.
  void run(clock_type::time_point end, const std::vector<std::string>& people) {
    for (auto& c : conns_) ask(c, people);
    std::size_t waiting = conns_.size();
    epoll_event evs[64];
    while (waiting > 0 && !failed) {
      const int n = ::epoll_wait(ep_, evs, 64, 200);
      if (n < 0 && errno != EINTR) failed = true;
      const bool more = clock_type::now() < end;
      for (int k = 0; k < n; ++k) {
        conn& c = conns_[evs[k].data.u64];
        char b[16384];
        const ssize_t r = ::recv(c.fd, b, sizeof b, 0);
        if (r <= 0) {
          failed = true;
          break;
        }
        c.buf.append(b, static_cast<std::size_t>(r));
        if (!whole(c)) continue;
        latencies.push_back(
            std::chrono::duration<double, std::milli>(clock_type::now() - c.t0).count());
        if (c.status != 200 || c.body.find(c.key) == std::string::npos) failed = true;
        // The server ends a connection after its keep-alive maximum: connect again.
        if (c.closing && more) connect(evs[k].data.u64);
        if (more)
          ask(c, people);
        else
          --waiting;
      }
      if (n == 0 && !more) break;  // an answer that never came: counted below
    }
    if (waiting > 0 && !failed) failed = true;
  }

  std::vector<double> latencies;  ///< milliseconds, one per answered look-up
  bool failed = false;

 private:
  struct conn {
    int fd = -1;
    std::string buf, body, key;
    int status = 0;
    bool closing = false;  // the answer said "Connection: close"
    clock_type::time_point t0;
  };

  void connect(std::size_t i) {
    conn& c = conns_[i];
    if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int yes = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0)
      failed = true;
  }

  void ask(conn& c, const std::vector<std::string>& people) {
    c.key = people[rng_() % people.size()];
    c.buf.clear();
    const std::string req = "GET /v1/profiles/person/" + c.key + " HTTP/1.1\r\nHost: b\r\n\r\n";
    c.t0 = clock_type::now();
    if (::send(c.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      failed = true;
  }

  // Whether `c.buf` holds a whole answer; then its status and body.
  static bool whole(conn& c) {
    const auto head = c.buf.find("\r\n\r\n");
    if (head == std::string::npos) return false;
    const auto cl = c.buf.find("Content-Length: ");
    const std::size_t need =
        head + 4 + (cl < head ? std::stoul(c.buf.substr(cl + 16, 20)) : std::size_t{0});
    if (c.buf.size() < need) return false;
    c.status = c.buf.size() > 12 ? std::atoi(c.buf.c_str() + 9) : -1;
    c.closing = c.buf.find("Connection: close") < head;
    c.body.assign(c.buf, head + 4, need - head - 4);
    return true;
  }

  int port_ = 0;
  int ep_ = -1;
  std::vector<conn> conns_;
  std::mt19937_64 rng_;
};

/// Batch `i` of 100 changes: 90 event inserts for random people, 10 lead score upserts.
std::string event_batch(std::uint64_t i) {
  const world& w = the_world();
  std::mt19937_64 r(i * 7919 + 1);
  std::string s;
  const std::string ts = b2bseg::format_timestamp(w.as_of - 3'600'000'000LL);
  for (int k = 0; k < 100; ++k) {
    const std::string& p = w.people[r() % w.people.size()];
    if (k % 10 == 9)
      s += "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"" + p +
           "\", \"lead_score\": " + std::to_string(r() % 100) + "}}\n";
    else
      s += "{\"op\": \"insert\", \"entity\": \"event\", \"row\": {\"person_id\": \"" + p +
           "\", \"type\": \"web.pageview\", \"timestamp\": \"" + ts + "\"}}\n";
  }
  return s;
}

void percentiles(benchmark::State& state, std::vector<double>& ms, const std::string& prefix) {
  std::sort(ms.begin(), ms.end());
  if (ms.empty()) return;
  state.counters[prefix + "p50_ms"] = ms[ms.size() / 2];
  state.counters[prefix + "p99_ms"] = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
}

/// The profiles of `sample` people list exactly the segments the start evaluation puts them in.
bool check_profiles(benchmark::State& state, int port) {
  world& w = the_world();
  httplib::Client c("127.0.0.1", port);
  const b2bseg::entity_id p = w.g->schema().find_entity("person");
  std::mt19937 r(99);
  for (int k = 0; k < 200; ++k) {
    const b2bseg::row_id row = static_cast<b2bseg::row_id>(r() % w.people.size());
    std::string want = "\"segments\": [";
    bool first = true;
    for (const auto& seg : w.f->segments) {
      if (seg.entity != p) continue;
      for (const auto& res : w.start.segments)
        if (res.name == seg.name && res.members.contains(row)) {
          want += (first ? "\"" : ", \"") + seg.name + "\"";
          first = false;
        }
    }
    want += "]";
    auto a = c.Get("/v1/profiles/person/" + w.people[row]);
    if (!bench::check_true(state, a && a->status == 200 && a->body.find(want) != std::string::npos,
                           "profile of " + w.people[row]))
      return false;
  }
  return true;
}

/// `clients` keep-alive clients look up random people for the bench's time; p50/p99 per
/// look-up and look-ups per second. With `changes_per_s`, a writer posts 100-change durable
/// batches at that rate meanwhile (and batch latency is reported too).
void run_lookups(benchmark::State& state, int clients, double changes_per_s) {
  world& w = the_world();
  malloc_trim(0);  // what the last server freed goes back to the system
  const bool durable = changes_per_s > 0;
  server s(durable);
  if (!durable && !check_profiles(state, s.port())) return;
  const double seconds = seconds_from_env();
  const int client_threads = std::clamp(env_int("B2BSEG_BENCH_CLIENT_THREADS", 1), 1, clients);
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(client_threads));
  std::vector<double> batch_ms;
  std::atomic<bool> failed{false};
  std::atomic<std::uint64_t> batches{0};
  for (auto _ : state) {
    const auto end = clock_type::now() + std::chrono::duration<double>(seconds);
    // The connections, driven by `client_threads` threads of their own.
    std::vector<std::thread> ts;
    for (int t = 0; t < client_threads; ++t)
      ts.emplace_back([&, t] {
        lookup_clients c(s.port(), clients / client_threads + (t < clients % client_threads),
                         static_cast<std::uint64_t>(t) + 1);
        c.run(std::chrono::time_point_cast<clock_type::duration>(end), w.people);
        lat[static_cast<std::size_t>(t)] = std::move(c.latencies);
        if (c.failed) failed = true;
      });
    std::thread writer;
    if (durable)
      writer = std::thread([&] {
        httplib::Client c("127.0.0.1", s.port());
        c.set_keep_alive(true);
        c.set_tcp_nodelay(true);
        const auto every = std::chrono::duration<double>(100.0 / changes_per_s);
        auto next = clock_type::now();
        while (clock_type::now() < end) {
          std::this_thread::sleep_until(next);
          next += std::chrono::duration_cast<clock_type::duration>(every);
          const std::string body = event_batch(batches);
          const auto t0 = clock_type::now();
          auto a = c.Post("/v1/changes", body, "application/x-ndjson");
          batch_ms.push_back(
              std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
          if (!a || a->status != 200 ||
              a->body.rfind("{\"seq\": " + std::to_string(batches + 1) + ",", 0) != 0)
            failed = true;
          ++batches;
        }
      });
    for (auto& t : ts) t.join();
    if (writer.joinable()) writer.join();
  }
  bench::check_true(state, !failed, "every look-up and batch answered right");
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  state.counters["lookups_per_s"] = static_cast<double>(all.size()) / seconds;
  percentiles(state, all, "");
  if (durable) {
    state.counters["batches"] = static_cast<double>(batches);
    state.counters["changes_per_s"] = 100.0 * static_cast<double>(batches) / seconds;
    percentiles(state, batch_ms, "batch_");
    bench::check(state, "seq", s.svc().seq(), batches.load());
  }
}

// The service's own share of a look-up: `service::handle` called in this thread, no socket, no
// HTTP parser; the answer must be a 200 naming the key.
void BM_lookup_without_transport(benchmark::State& state) {
  world& w = the_world();
  b2bseg::serve_options so;
  so.as_of = w.as_of;
  so.threads = 1;
  so.snapshot_every = 0;
  b2bseg::service svc(w.g, w.f, so);
  std::mt19937_64 rng(7);
  std::vector<std::string> targets;
  for (int i = 0; i < 4096; ++i)
    targets.push_back("/v1/profiles/person/" + w.people[rng() % w.people.size()]);
  std::size_t i = 0, bad = 0;
  for (auto _ : state) {
    const std::string& t = targets[i++ % targets.size()];
    const b2bseg::serve_reply r = svc.handle({"GET", t, "", ""});
    bad += r.status != 200 ||
           r.body.find(std::string_view(t).substr(t.rfind('/') + 1)) == std::string::npos;
  }
  svc.shutdown(false);
  bench::check(state, "answers not 200 naming the key", bad, std::size_t(0));
}
BENCHMARK(BM_lookup_without_transport)->Unit(benchmark::kMicrosecond);

void BM_profile_lookups(benchmark::State& state) {
  run_lookups(state, 8, 0);
}
BENCHMARK(BM_profile_lookups)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_profile_lookups_while_streaming(benchmark::State& state) {
  run_lookups(state, 8, 10000);
}
BENCHMARK(BM_profile_lookups_while_streaming)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

/// Durable batches of 100 changes one after another: latency from POST to answer, fsync of the
/// log included. Then every segment's members equal a full evaluation of the changed rows.
void BM_durable_batches_of_100(benchmark::State& state) {
  world& w = the_world();
  malloc_trim(0);  // what the last server freed goes back to the system
  const double seconds = seconds_from_env();
  std::vector<double> ms;
  std::uint64_t n = 0;
  bool ok = true;
  std::map<std::string, std::vector<std::string>> got;  // the server's members at the end
  {
    server s(true);
    httplib::Client c("127.0.0.1", s.port());
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);
    for (auto _ : state) {
      const auto end = clock_type::now() + std::chrono::duration<double>(seconds);
      while (clock_type::now() < end) {
        const std::string body = event_batch(n);
        const auto t0 = clock_type::now();
        auto a = c.Post("/v1/changes", body, "application/x-ndjson");
        ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
        ok = ok && a && a->status == 200 &&
             a->body.rfind("{\"seq\": " + std::to_string(n + 1) + ",", 0) == 0;
        ++n;
      }
    }
    for (const auto& seg : w.f->segments) {
      if (!w.g->schema().entities[seg.entity].key) continue;
      auto a = c.Get("/v1/segments/" + seg.name + "/members");
      if (!bench::check_true(state, a && a->status == 200, seg.name + " members")) return;
      auto& keys = got[seg.name];
      std::istringstream in(a->body);
      std::string line;
      std::getline(in, line);
      while (std::getline(in, line)) keys.push_back(line);
      std::sort(keys.begin(), keys.end());
    }
  }                // the server's two engines go before the reference is built
  malloc_trim(0);  // what the last server freed goes back to the system
  if (!bench::check_true(state, ok, "every batch answered with the next number")) return;
  percentiles(state, ms, "");
  state.counters["batches_per_s"] = static_cast<double>(n) / seconds;
  // The same rows, built and evaluated from scratch: each segment's member list must match.
  b2bseg::live_rows rows(*w.g);
  b2bseg::change_parser parser(rows.schema());
  b2bseg::undo_log undo;
  rows.set_now(w.as_of);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::istringstream in(event_batch(i));
    std::string line;
    while (std::getline(in, line))
      if (!bench::check_true(
              state, rows.apply(std::get<b2bseg::change>(parser.parse(line, 1)), undo).empty(),
              "a change of batch " + std::to_string(i + 1)))
        return;
    undo.entries.clear();
  }
  const b2bseg::graph g = rows.build();
  const auto ev = b2bseg::evaluate(g, *w.f, {.as_of = w.as_of, .threads = 0, .segments = {}});
  for (const auto& r : ev.segments) {
    if (!g.schema().entities[r.entity].key) continue;
    std::vector<std::string> want;
    for (auto it = r.members.begin(); it != r.members.end(); ++it)
      want.emplace_back(g.key(r.entity, *it));
    std::sort(want.begin(), want.end());
    if (!bench::check_true(state, want == got[r.name], r.name + " members after the batches"))
      return;
  }
}
BENCHMARK(BM_durable_batches_of_100)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
