// `b2bseg serve` (SPEC 7) over real sockets on 127.0.0.1: every endpoint against evaluate and
// why, random change batches against full evaluations, whole batches under concurrent reads,
// the token, bad input (bodies, paths, slow and many clients), and crash recovery of the CLI
// killed with SIGKILL at random points under load.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "b2bseg/b2bseg.hpp"
#include "b2bseg/serve/http.hpp"
#include "b2bseg/serve/service.hpp"
#include "support/random_changes.hpp"
#include "support/random_graph.hpp"
#include "support/random_segments.hpp"
#include "support/temp_dir.hpp"

using namespace b2bseg;
using namespace b2bseg::testing;
using namespace b2bseg::test_support;
namespace fs = std::filesystem;

namespace {

const std::string demo_dir = std::string(B2BSEG_SOURCE_DIR) + "/datasets/demo";
const std::string demo_seg = std::string(B2BSEG_SOURCE_DIR) + "/datasets/demo.seg";
const timestamp_us demo_as_of = [] {
  timestamp_us t = 0;
  parse_timestamp("2026-11-22T00:00:00Z", t);
  return t;
}();

std::string slurp(const std::string& path) {
  return read_file(path);
}

const segment_result& result_of(const evaluation& ev, const std::string& name) {
  for (const auto& r : ev.segments)
    if (r.name == name) return r;
  throw std::logic_error("no result " + name);
}

/// A service and its HTTP server on a free loopback port, served from a thread.
class served {
 public:
  served(std::shared_ptr<const graph> g, std::shared_ptr<const bound_file> f, serve_options so,
         http_options ho = {})
      : svc_(std::move(g), std::move(f), std::move(so)) {
    ho.host = "127.0.0.1";
    ho.port = 0;
    ho.log = nullptr;
    server_ = std::make_unique<http_server>(svc_, ho);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
    for (int i = 0; i < 500 && !server_->running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ~served() {
    server_->stop();
    thread_.join();
    svc_.shutdown(false);
  }
  int port() const { return port_; }
  service& svc() { return svc_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_keep_alive(true);
    c.set_read_timeout(30, 0);
    return c;
  }

 private:
  service svc_;
  std::unique_ptr<http_server> server_;
  std::thread thread_;
  int port_ = 0;
};

/// The demo dataset and its segments, loaded once.
struct demo_data {
  std::shared_ptr<const graph> g;
  std::shared_ptr<const bound_file> f;
};
const demo_data& demo() {
  static const demo_data d = [] {
    demo_data x;
    x.g = std::make_shared<const graph>(open_data(demo_dir));
    x.f = std::make_shared<const bound_file>(
        compile_segments(slurp(demo_seg), x.g->schema(), "demo.seg"));
    return x;
  }();
  return d;
}

serve_options opts(timestamp_us as_of) {
  serve_options o;
  o.as_of = as_of;
  o.threads = 2;
  return o;
}

/// A connected socket to 127.0.0.1:port (blocking), or -1.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t w = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (w <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(w));
  }
  return true;
}

/// Reads until the peer closes or `timeout_ms` passes; what arrived.
std::string read_until_close(int fd, int timeout_ms, bool* closed = nullptr) {
  std::string out;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (closed) *closed = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          end - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) {
      if (closed) *closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(r));
  }
}

/// Reads one response (headers and a Content-Length body), or what came in `timeout_ms`.
std::string read_response(int fd, int timeout_ms) {
  std::string out;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    const auto head = out.find("\r\n\r\n");
    if (head != std::string::npos) {
      const auto cl = out.find("Content-Length: ");
      const std::size_t len = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
      if (out.size() >= head + 4 + len) return out;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return out;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

/// One raw request (Connection: close) and the whole response text.
std::string raw_request(int port, const std::string& request) {
  const int fd = connect_to(port);
  if (fd < 0) return "connect failed";
  send_all(fd, request);
  std::string r = read_until_close(fd, 10000);
  ::close(fd);
  return r;
}
std::string raw_get(int port, const std::string& target) {
  return raw_request(port, "GET " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
}
int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return -1;
  return std::atoi(response.c_str() + 9);
}

/// The keys of a one-column CSV (RFC 4180 quoting), without its header.
std::vector<std::string> csv_keys(const std::string& body) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (quoted) {
      if (c == '"' && i + 1 < body.size() && body[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == '\n') {
      out.push_back(field);
      field.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (any) out.push_back(field);
  if (!out.empty()) out.erase(out.begin());  // the header
  return out;
}

/// The members of every segment, as sorted keys, by evaluating `g` as of `now`.
std::vector<std::vector<std::string>> expected_members(const graph& g, const bound_file& f,
                                                       timestamp_us now) {
  std::vector<std::vector<std::string>> out(f.segments.size());
  evaluation ev = evaluate(g, f, eval_options{.as_of = now, .threads = 1, .segments = {}});
  for (const auto& r : ev.segments) {
    const auto i = static_cast<std::size_t>(f.find(r.name));
    for (auto it = r.members.begin(); it != r.members.end(); ++it)
      out[i].emplace_back(g.key(r.entity, *it));
    std::sort(out[i].begin(), out[i].end());
  }
  return out;
}

}  // namespace

// --- endpoints --------------------------------------------------------------------------------

TEST(ServeEndpoints, DemoAnswersAsEvalAndWhyDo) {
  const auto& d = demo();
  served s(d.g, d.f, opts(demo_as_of));
  auto c = s.client();
  const evaluation ev =
      evaluate(*d.g, *d.f, eval_options{.as_of = demo_as_of, .threads = 2, .segments = {}});
  auto h = c.Get("/v1/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "{\"status\": \"ok\", \"seq\": 0}\n");

  auto list = c.Get("/v1/segments");
  ASSERT_TRUE(list);
  std::string want = "[";
  for (std::size_t i = 0; i < d.f->segments.size(); ++i) {
    const auto& r = result_of(ev, d.f->segments[i].name);
    want += i ? ",\n " : "";
    want += "{\"name\": \"" + r.name + "\", \"entity\": \"" +
            d.g->schema().entities[r.entity].name +
            "\", \"count\": " + std::to_string(r.members.cardinality()) + "}";
  }
  EXPECT_EQ(list->body, want + "]\n");

  std::mt19937 rng(7);
  for (const auto& r : ev.segments) {
    auto m = c.Get("/v1/segments/" + r.name + "/members");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    EXPECT_EQ(m->get_header_value("Content-Type"), "text/csv");
    // The same bytes as eval's NAME.csv: no change yet, so the same ids in the same order.
    EXPECT_EQ(m->body, members_csv(*d.g, r.entity, r.members)) << r.name;
  }
  const entity_id person = d.g->schema().find_entity("person");
  for (int k = 0; k < 60; ++k) {
    const row_id row = static_cast<row_id>(rng() % d.g->rows(person));
    const std::string key(d.g->key(person, row));
    auto p = c.Get("/v1/profiles/person/" + key);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->status, 200);
    std::string segs;
    for (const auto& seg : d.f->segments) {
      if (seg.entity != person) continue;
      const auto& r = result_of(ev, seg.name);
      if (!r.members.contains(row)) continue;
      segs += (segs.empty() ? "\"" : ", \"") + seg.name + "\"";
    }
    EXPECT_NE(p->body.find("\"segments\": [" + segs + "]"), std::string::npos) << p->body;
    // Attributes as the columns hold them.
    const auto& def = d.g->schema().entities[person];
    for (std::uint32_t a = 0; a < def.attributes.size(); ++a) {
      const std::string v = value_json_at(graph_rows(*d.g), person, a, row);
      EXPECT_NE(p->body.find("\"" + def.attributes[a].name + "\": " + v), std::string::npos)
          << def.attributes[a].name << " in " << p->body;
    }
    const std::uint32_t si = static_cast<std::uint32_t>(rng() % d.f->segments.size());
    if (d.f->segments[si].entity != person) continue;
    auto w = c.Get("/v1/profiles/person/" + key + "/why/" + d.f->segments[si].name);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->body, why_json(explain_membership(*d.g, *d.f, si, row, demo_as_of)));
  }
  const auto first = "P0000001";
  auto p = c.Get(std::string("/v1/profiles/person/") + first);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->body.rfind("{\"entity\": \"person\", \"key\": \"P0000001\", \"segments\": [", 0),
            0u);
  EXPECT_NE(p->body.find("\"lead_score\": 46"), std::string::npos);
  EXPECT_NE(p->body.find("\"email_opt_out\": true"), std::string::npos);
  EXPECT_NE(p->body.find("\"created_at\": \"2026-10-17T13:42:30Z\""), std::string::npos);
}

TEST(ServeEndpoints, StrictPathsAndJsonErrors) {
  const auto& d = demo();
  served s(d.g, d.f, opts(demo_as_of));
  const int port = s.port();
  struct probe {
    std::string target;
    int status;
    std::string says;
  };
  const std::vector<probe> probes = {
      {"/v1/health/", 404, "no such path"},
      {"/v1//health", 404, "no such path"},
      {"/V1/health", 404, "no such path"},
      {"/v2/health", 404, "no such path"},
      {"/", 404, "no such path"},
      {"/v1/segments/nope/members", 404, "no segment 'nope'"},
      {"/v1/segments/suppression", 404, "no such path"},
      {"/v1/profiles/nobody/P0000001", 404, "no entity 'nobody'"},
      {"/v1/profiles/event/E1", 404, "has no key"},
      {"/v1/profiles/person/P9999999", 404, "no person 'P9999999'"},
      {"/v1/profiles/person/P0000001/why/nope", 404, "no segment 'nope'"},
      {"/v1/profiles/person/P0000001/why/icp_accounts", 404, "is on entity 'account'"},
      {"/v1/profiles/person/P%30000001", 200, "\"key\": \"P0000001\""},
      {"/v1/profiles/person/P%3", 400, "percent-encoding"},
      {"/v1/profiles/person/P%zz", 400, "percent-encoding"},
      {"/v1/profiles/person/%FF%FE", 400, "not valid UTF-8"},
      {"/v1/changes", 400, "since=SEQ is required"},
      {"/v1/changes?since=x", 400, "whole numbers"},
      {"/v1/changes?since=0&limit=0", 400, "whole numbers"},
      {"/v1/changes?since=0&color=red", 400, "since=SEQ"},
      {"/v1/changes?since=0", 200, ""},
  };
  for (const auto& p : probes) {
    const std::string r = raw_get(port, p.target);
    EXPECT_EQ(status_of(r), p.status) << p.target << "\n" << r;
    EXPECT_NE(r.find(p.says), std::string::npos) << p.target << "\n" << r;
    if (p.status >= 400) {
      EXPECT_NE(r.find("Content-Type: application/json"), std::string::npos) << r;
      EXPECT_NE(r.find("{\"error\": "), std::string::npos) << r;
    }
  }
  const std::string del =
      raw_request(port, "DELETE /v1/segments HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(del), 405) << del;
  EXPECT_NE(del.find("Allow: GET"), std::string::npos) << del;
  const std::string post = raw_request(
      port,
      "POST /v1/health HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_EQ(status_of(post), 405) << post;
  // Nothing on disk is served, whatever the path says.
  for (const char* t : {"/../../etc/passwd", "/v1/../../etc/passwd", "/etc/passwd",
                        "/v1/segments/..%2f..%2fetc%2fpasswd/members"}) {
    const std::string r = raw_get(port, t);
    EXPECT_TRUE(status_of(r) == 404 || status_of(r) == 400) << t << "\n" << r;
    EXPECT_EQ(r.find("root:"), std::string::npos) << t;
  }
}

// --- changes ----------------------------------------------------------------------------------

TEST(ServeChanges, RandomBatchesMatchFullEvaluation) {
  for (std::uint64_t seed : {3u, 8u, 21u}) {
    random_dataset ds = make_random_dataset(seed);
    segment_generator gen(ds.graph, ds.as_of, seed + 1000);
    segment_options so;
    so.segments = 8;
    so.max_depth = 2;
    so.sequence = 0.1;
    so.top = 0.08;
    so.bucket = 0.08;
    const generated_segments file = gen.file(so);
    auto fp = std::make_shared<const bound_file>(
        compile_segments(file.text, ds.graph.schema(), "random.seg"));
    shadow_rows shadow(ds.graph);
    change_generator changes(shadow, ds.as_of, seed, 0.0);
    auto g = std::make_shared<const graph>(ds.graph);
    served s(g, fp, opts(ds.as_of));
    auto c = s.client();
    const std::string where = "seed " + std::to_string(seed);
    auto previous = expected_members(ds.graph, *fp, ds.as_of);
    std::uint64_t seq = 0;
    for (int b = 0; b < 12; ++b) {
      std::string body;
      const int size = 1 + b % 9;
      for (int k = 0; k < size; ++k) {
        const feed_line l = changes.next();
        body += l.text + "\n";
      }
      auto r = c.Post("/v1/changes", body, "application/x-ndjson");
      ASSERT_TRUE(r) << where;
      ASSERT_EQ(r->status, 200) << where << ", batch " << b + 1 << ": " << r->body << "\n" << body;
      const bool any = r->body.find("\"applied\": 0") == std::string::npos;
      if (any) ++seq;
      EXPECT_EQ(r->body.rfind("{\"seq\": " + std::to_string(seq) + ",", 0), 0u) << r->body;
      const graph now_g = shadow.build();
      const auto now_expected = expected_members(now_g, *fp, changes.now());
      std::map<std::pair<std::string, std::string>, std::string> want_lines;
      for (std::size_t i = 0; i < fp->segments.size(); ++i) {
        const auto& seg = fp->segments[i];
        if (!ds.graph.schema().entities[seg.entity].key) continue;
        auto m = c.Get("/v1/segments/" + seg.name + "/members");
        ASSERT_TRUE(m);
        auto got = csv_keys(m->body);
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, now_expected[i]) << where << ", batch " << b + 1 << ", " << seg.name << "\n"
                                        << file.definitions[i];
        std::vector<std::string> in, out;
        std::set_difference(now_expected[i].begin(), now_expected[i].end(), previous[i].begin(),
                            previous[i].end(), std::back_inserter(in));
        std::set_difference(previous[i].begin(), previous[i].end(), now_expected[i].begin(),
                            now_expected[i].end(), std::back_inserter(out));
        for (const auto& k : in) want_lines[{seg.name, k}] = "entered";
        for (const auto& k : out) want_lines[{seg.name, k}] = "exited";
      }
      if (any) {  // the batch's membership changes, as GET /v1/changes gives them
        auto h = c.Get("/v1/changes?since=" + std::to_string(seq - 1));
        ASSERT_TRUE(h);
        std::map<std::pair<std::string, std::string>, std::string> got_lines;
        std::istringstream in(h->body);
        std::string line;
        std::size_t n = 0;
        while (std::getline(in, line)) {
          ++n;
          EXPECT_EQ(line.rfind("{\"seq\": " + std::to_string(seq) + ", ", 0), 0u) << line;
          const auto j = nlohmann::json::parse(line);
          if (!j.contains("segment")) continue;
          got_lines[{j["segment"].get<std::string>(), j["key"].get<std::string>()}] =
              j["change"].get<std::string>();
        }
        EXPECT_EQ(got_lines, want_lines) << where << ", batch " << b + 1;
        EXPECT_EQ(n, want_lines.size() + 1) << h->body;
      }
      previous = now_expected;
    }
  }
}

TEST(ServeChanges, ABadLineRefusesTheWholeBatch) {
  const auto& d = demo();
  served s(d.g, d.f, opts(demo_as_of));
  auto c = s.client();
  const std::string before = c.Get("/v1/profiles/person/P0000001")->body;
  const std::string good =
      "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"P0000001\", "
      "\"seniority\": \"VP\"}}\n";
  struct bad {
    std::string body;
    std::size_t line;
    std::string says;
  };
  const std::vector<bad> bads = {
      {good + "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"P0000002\", "
              "\"lead_score\": \"lots\"}}\n",
       2, "lead_score"},
      {good + "{\"op\": \"upsert\"\n", 2, "line 2"},
      {good + "\n\n{\"op\": \"delete\", \"entity\": \"person\", \"key\": \"P9999999\"}\n", 4,
       "P9999999"},
      {good + "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"P0000001\", "
              "\"account_id\": \"A_NONE\"}}\n",
       2, "A_NONE"},
      {good + "{\"op\": \"tick\", \"now\": \"2020-01-01T00:00:00Z\"}\n", 2, "backwards"},
      {good + "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"P\xff\"}}\n",
       2, "line 2"},
      {"[1, 2]\n" + good, 1, "line 1"},
  };
  for (const auto& b : bads) {
    auto r = c.Post("/v1/changes", b.body, "application/x-ndjson");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << b.body << r->body;
    EXPECT_NE(r->body.find("\"line\": " + std::to_string(b.line)), std::string::npos)
        << b.body << r->body;
    EXPECT_NE(r->body.find(b.says), std::string::npos) << r->body;
  }
  EXPECT_EQ(c.Get("/v1/health")->body, "{\"status\": \"ok\", \"seq\": 0}\n");
  EXPECT_EQ(c.Get("/v1/profiles/person/P0000001")->body, before);
  // Nothing but commits and blank lines: no batch, no number.
  auto e = c.Post("/v1/changes", "\n{\"op\": \"commit\"}\n\n", "application/x-ndjson");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->body, "{\"seq\": 0, \"applied\": 0, \"entered\": 0, \"exited\": 0}\n");
  auto ok = c.Post("/v1/changes", good, "application/x-ndjson");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body.rfind("{\"seq\": 1, \"applied\": 1, ", 0), 0u) << ok->body;
  EXPECT_NE(c.Get("/v1/profiles/person/P0000001")->body.find("\"seniority\": \"VP\""),
            std::string::npos);
}

TEST(ServeChanges, ABatchThatCompactsKeepsServing) {
  // The service is the graph's only owner: after a compaction drops it, parsing, profiles and
  // why must still work (they read the service's own schema and the engines' new rows).
  const auto& d = demo();
  auto g = std::make_shared<const graph>(open_data(demo_dir));
  served s(std::move(g), d.f, opts(demo_as_of));
  auto c = s.client();
  std::string body;
  for (int i = 0; i < 7000; ++i) {  // 3 x 7,000 rows: past an eighth of the demo's 152k
    char key[16];
    std::snprintf(key, sizeof key, "P%07d", i % 1500 + 1);
    body += std::string("{\"op\": \"insert\", \"entity\": \"event\", \"row\": {\"person_id\": \"") +
            key + "\", \"type\": \"webinar.attended\", \"timestamp\": \"2026-11-21T10:00:00Z\"}}\n";
  }
  for (int b = 1; b <= 3; ++b) {
    auto r = c.Post("/v1/changes", body, "application/x-ndjson");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(c.Get("/v1/health")->body, "{\"status\": \"ok\", \"seq\": 3}\n");
  auto p = c.Get("/v1/profiles/person/P0000002");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200) << p->body;
  auto w = c.Get("/v1/profiles/person/P0000002/why/suppression");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 200) << w->body;
  // The members still equal an evaluation of the data with the events added.
  live_rows rows(*d.g);
  rows.set_now(demo_as_of);
  change_parser parser(d.g->schema());
  undo_log undo;
  std::istringstream in(body);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line))
    for (int b = 0; b < 3; ++b)
      ASSERT_TRUE(rows.apply(std::get<change>(parser.parse(line, ++n)), undo).empty());
  const graph after = rows.build();
  const auto want = expected_members(after, *d.f, demo_as_of);
  for (std::size_t i = 0; i < d.f->segments.size(); ++i) {
    auto m = c.Get("/v1/segments/" + d.f->segments[i].name + "/members");
    ASSERT_TRUE(m);
    auto got = csv_keys(m->body);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want[i]) << d.f->segments[i].name;
  }
}

TEST(ServeChanges, SinceLimitAndForgottenHistory) {
  const auto& d = demo();
  serve_options o = opts(demo_as_of);
  o.history_bytes = 2000;
  served s(d.g, d.f, o);
  auto c = s.client();
  for (int i = 0; i < 12; ++i) {
    const std::string level = i % 2 ? "VP" : "Manager";
    auto r = c.Post("/v1/changes",
                    "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": "
                    "\"P0000003\", \"seniority\": \"" +
                        level +
                        "\"}}\n"
                        "{\"op\": \"tick\", \"now\": \"2026-11-22T" +
                        std::string(i < 10 ? "0" : "") + std::to_string(i) + ":00:00Z\"}\n",
                    "application/x-ndjson");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  auto gone = c.Get("/v1/changes?since=0");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 410) << gone->body;
  EXPECT_NE(gone->body.find("no longer kept"), std::string::npos);
  auto last = c.Get("/v1/changes?since=11");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 200);
  EXPECT_EQ(last->body.rfind("{\"seq\": 12, ", 0), 0u) << last->body;
  EXPECT_TRUE(c.Get("/v1/changes?since=12")->body.empty());
  EXPECT_TRUE(c.Get("/v1/changes?since=99")->body.empty());
  // limit: whole batches only, and at least one whatever its size.
  auto one = c.Get("/v1/changes?since=10&limit=1");
  ASSERT_TRUE(one);
  std::istringstream in(one->body);
  std::string line;
  std::set<std::string> seqs;
  while (std::getline(in, line)) seqs.insert(line.substr(0, line.find(',')));
  EXPECT_EQ(seqs, std::set<std::string>{"{\"seq\": 11"}) << one->body;
}

// --- consistency ------------------------------------------------------------------------------

TEST(ServeConsistency, ReadersSeeWholeBatchesAndTheirOwnWrites) {
  const auto& d = demo();
  const std::string seg = "segment vp on person where seniority = \"VP\"\n";
  auto f = std::make_shared<const bound_file>(compile_segments(seg, d.g->schema(), "vp.seg"));
  const entity_id person = d.g->schema().find_entity("person");
  const evaluation ev =
      evaluate(*d.g, *f, eval_options{.as_of = demo_as_of, .threads = 1, .segments = {}});
  // Two people who are not VPs: every batch makes both VPs or neither.
  std::vector<std::string> pair;
  for (row_id r = 0; r < d.g->rows(person) && pair.size() < 2; ++r)
    if (!ev.segments[0].members.contains(r)) pair.emplace_back(d.g->key(person, r));
  const std::uint64_t base = ev.segments[0].members.cardinality();
  served s(d.g, f, opts(demo_as_of));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, torn{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      auto c = s.client();
      while (!done) {
        auto r = c.Get("/v1/segments");
        if (!r) continue;
        const auto at = r->body.find("\"count\": ");
        const std::uint64_t n = std::stoull(r->body.substr(at + 9));
        if (n != base && n != base + 2) ++torn;
        ++reads;
      }
    });
  auto c = s.client();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int b = 1; b <= 120 && std::chrono::steady_clock::now() < deadline; ++b) {
    const std::string level = b % 2 ? "VP" : "Staff";
    std::string body;
    for (const auto& k : pair)
      body += "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"" + k +
              "\", \"seniority\": \"" + level + "\"}}\n";
    auto r = c.Post("/v1/changes", body, "application/x-ndjson");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    // A read sent after the answer sees the batch, on any connection.
    auto other = s.client();
    auto p = other.Get("/v1/profiles/person/" + pair[1]);
    ASSERT_TRUE(p);
    EXPECT_NE(p->body.find("\"seniority\": \"" + level + "\""), std::string::npos) << p->body;
    EXPECT_EQ(p->body.find("\"vp\"") != std::string::npos, b % 2 == 1) << p->body;
    EXPECT_EQ(other.Get("/v1/health")->body,
              "{\"status\": \"ok\", \"seq\": " + std::to_string(b) + "}\n");
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);
}

// --- security ---------------------------------------------------------------------------------

TEST(ServeSecurity, BearerTokenOnEveryRequestButHealth) {
  const auto& d = demo();
  serve_options o = opts(demo_as_of);
  o.token = "s3cret-token";
  served s(d.g, d.f, o);
  const int port = s.port();
  auto with = [&](const std::string& target, const std::string& auth) {
    return raw_request(
        port, "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + auth + "Connection: close\r\n\r\n");
  };
  EXPECT_EQ(status_of(with("/v1/health", "")), 200);
  for (const char* t : {"/v1/segments", "/v1/profiles/person/P0000001", "/v1/changes?since=0",
                        "/v1/segments/suppression/members"}) {
    const std::string none = with(t, "");
    EXPECT_EQ(status_of(none), 401) << t;
    EXPECT_NE(none.find("WWW-Authenticate: Bearer"), std::string::npos) << none;
    EXPECT_EQ(status_of(with(t, "Authorization: Bearer s3cret-toke\r\n")), 401) << t;
    EXPECT_EQ(status_of(with(t, "Authorization: Bearer s3cret-token2\r\n")), 401) << t;
    EXPECT_EQ(status_of(with(t, "Authorization: Basic s3cret-token\r\n")), 401) << t;
    EXPECT_EQ(status_of(with(t, "Authorization: Bearer s3cret-token\r\n")), 200) << t;
    EXPECT_EQ(status_of(with(t, "Authorization: bearer s3cret-token\r\n")), 200) << t;
  }
  const std::string post =
      raw_request(port,
                  "POST /v1/changes HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n"
                  "Connection: close\r\n\r\n{\"op\": \"commit\"}\n");
  EXPECT_EQ(status_of(post), 401) << post;
}

TEST(ServeChanges, SubmitBatchTakesOnlyAuthorizedBatchesAndAnswersThroughTheCallback) {
  const auto& d = demo();
  serve_options o = opts(demo_as_of);
  o.token = "s3cret-token";
  service svc(d.g, d.f, o);
  const std::string tick = "{\"op\": \"tick\", \"now\": \"2026-11-22T01:00:00Z\"}\n";
  auto never = [](serve_reply) { ADD_FAILURE() << "answered a request it did not take"; };
  // Not a batch, or not allowed: left to `handle` (which says why), nothing applied.
  EXPECT_FALSE(svc.submit_batch({"GET", "/v1/changes", "Bearer s3cret-token", ""}, never));
  EXPECT_FALSE(svc.submit_batch({"POST", "/v1/health", "Bearer s3cret-token", tick}, never));
  EXPECT_FALSE(svc.submit_batch({"POST", "/v1/changes/", "Bearer s3cret-token", tick}, never));
  EXPECT_FALSE(svc.submit_batch({"POST", "/v1/changes", "", tick}, never));
  EXPECT_FALSE(svc.submit_batch({"POST", "/v1/changes", "Bearer s3cret-toke", tick}, never));
  EXPECT_EQ(svc.seq(), 0u);
  // A batch: answered from the writer with what `handle` would say, in arrival order.
  std::promise<serve_reply> first, second;
  ASSERT_TRUE(svc.submit_batch({"POST", "/v1/changes", "Bearer s3cret-token", tick},
                               [&](serve_reply r) { first.set_value(std::move(r)); }));
  ASSERT_TRUE(svc.submit_batch({"POST", "/v1/changes?x=1", "bearer s3cret-token", "{\"op\"\n"},
                               [&](serve_reply r) { second.set_value(std::move(r)); }));
  const serve_reply a = first.get_future().get(), b = second.get_future().get();
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.body.rfind("{\"seq\": 1,", 0), 0u) << a.body;
  EXPECT_EQ(b.status, 400) << b.body;
  EXPECT_NE(b.body.find("\"line\": 1"), std::string::npos) << b.body;
  EXPECT_EQ(svc.seq(), 1u);
  // Once stopping: a 503 at once, through the callback.
  svc.shutdown(false);
  std::promise<serve_reply> late;
  ASSERT_TRUE(svc.submit_batch({"POST", "/v1/changes", "Bearer s3cret-token", tick},
                               [&](serve_reply r) { late.set_value(std::move(r)); }));
  EXPECT_EQ(late.get_future().get().status, 503);
}

// --- bad input --------------------------------------------------------------------------------

TEST(ServeBadInput, HugeBodyIsRefusedUnread) {
  const auto& d = demo();
  served s(d.g, d.f, opts(demo_as_of));
  const int fd = connect_to(s.port());
  ASSERT_GE(fd, 0);
  // Claims 1 GB; sends a few bytes. The answer comes without waiting for the rest.
  ASSERT_TRUE(send_all(fd,
                       "POST /v1/changes HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n"
                       "\r\n{\"op\": "));
  const std::string r = read_response(fd, 10000);
  ::close(fd);
  EXPECT_EQ(status_of(r), 413) << r;
  EXPECT_NE(r.find("{\"error\": "), std::string::npos) << r;
  EXPECT_EQ(s.client().Get("/v1/health")->body, "{\"status\": \"ok\", \"seq\": 0}\n");
}

TEST(ServeBadInput, SlowClientIsDroppedAndOthersAreServed) {
  const auto& d = demo();
  http_options ho;
  ho.read_timeout_s = 1;
  ho.keep_alive_timeout_s = 1;
  ho.workers = 4;
  served s(d.g, d.f, opts(demo_as_of), ho);
  std::vector<int> slow;
  for (int i = 0; i < 3; ++i) {
    const int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    send_all(fd, "GET /v1/hea");  // and never the rest
    slow.push_back(fd);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto h = s.client().Get("/v1/health");  // a worker is still free
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  for (int fd : slow) {
    bool closed = false;
    read_until_close(fd, 15000, &closed);
    EXPECT_TRUE(closed) << "a client that never finished its request was not dropped";
    ::close(fd);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15));
}

TEST(ServeBadInput, AThousandConnectionsAtOnce) {
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < 2200) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 4096);
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < 2200) GTEST_SKIP() << "descriptor limit " << rl.rlim_cur;
  const auto& d = demo();
  served s(d.g, d.f, opts(demo_as_of));
  // 20 threads open 50 connections each, sending each request as soon as it is connected; the
  // answers are read once all 1,000 are open.
  std::vector<int> fds(1000, -1);
  std::vector<std::thread> openers;
  for (int t = 0; t < 20; ++t)
    openers.emplace_back([&, t] {
      for (int i = t * 50; i < (t + 1) * 50; ++i) {
        fds[i] = connect_to(s.port());
        if (fds[i] >= 0)
          send_all(fds[i],
                   "GET /v1/profiles/person/P0000001 HTTP/1.1\r\nHost: t\r\n"
                   "Connection: close\r\n\r\n");
      }
    });
  for (auto& t : openers) t.join();
  for (int i = 0; i < 1000; ++i) ASSERT_GE(fds[i], 0) << "connection " << i;
  int ok = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (std::size_t i = 0; i < fds.size(); ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    const std::string r =
        read_until_close(fds[i], static_cast<int>(std::max<long>(1, left.count())));
    const bool good = status_of(r) == 200 && r.find("\"key\": \"P0000001\"") != std::string::npos;
    if (!good && static_cast<int>(i) - ok < 5)
      ADD_FAILURE() << "connection " << i << ": '" << r.substr(0, 200) << "'";
    ok += good;
    ::close(fds[i]);
  }
  EXPECT_EQ(ok, 1000);
  EXPECT_EQ(s.client().Get("/v1/health")->status, 200);
}

TEST(ServeTransport, PipeliningHeadContinueAndOldClients) {
  const auto& d = demo();
  served s(d.g, d.f, opts(demo_as_of));
  const std::string one = "GET /v1/profiles/person/P0000001 HTTP/1.1\r\nHost: t\r\n\r\n";
  // Three requests in one send (the last asks to close): three answers, in order.
  {
    const std::string all =
        raw_request(s.port(), one + "GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n" +
                                  "GET /v1/profiles/person/P0000002 HTTP/1.1\r\nHost: t\r\n"
                                  "Connection: close\r\n\r\n");
    const std::size_t a = all.find("HTTP/1.1 200"), b = all.find("HTTP/1.1 200", a + 1),
                      c = all.find("HTTP/1.1 200", b + 1);
    ASSERT_NE(c, std::string::npos) << all;
    EXPECT_NE(all.substr(a, b - a).find("\"key\": \"P0000001\""), std::string::npos) << all;
    EXPECT_NE(all.substr(b, c - b).find("{\"status\": \"ok\""), std::string::npos) << all;
    EXPECT_NE(all.substr(c).find("\"key\": \"P0000002\""), std::string::npos) << all;
  }
  // HEAD: the length a GET would have, no body.
  {
    const std::string get = raw_get(s.port(), "/v1/profiles/person/P0000001");
    const std::string head = raw_request(
        s.port(),
        "HEAD /v1/profiles/person/P0000001 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(status_of(head), 200) << head;
    const std::size_t body = get.size() - (get.find("\r\n\r\n") + 4);
    EXPECT_NE(head.find("Content-Length: " + std::to_string(body)), std::string::npos) << head;
    EXPECT_EQ(head.size(), head.find("\r\n\r\n") + 4) << head;
  }
  // Expect: 100-continue (curl sends it for bodies past 1 KiB): the go-ahead, then the answer.
  {
    const int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    const std::string body = "{\"op\": \"tick\", \"now\": \"2026-11-22T01:00:00Z\"}\n";
    ASSERT_TRUE(send_all(fd,
                         "POST /v1/changes HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                         "Content-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n"));
    const std::string go = read_response(fd, 10000);
    EXPECT_EQ(status_of(go), 100) << go;
    ASSERT_TRUE(send_all(fd, body));
    const std::string r = read_response(fd, 10000);
    ::close(fd);
    EXPECT_EQ(status_of(r), 200) << r;
    EXPECT_EQ(r.rfind("{\"seq\": 1,"), r.find("\r\n\r\n") + 4) << r;
  }
  // HTTP/1.0 without keep-alive: answered as 1.0, then closed.
  {
    const std::string r = raw_request(s.port(), "GET /v1/health HTTP/1.0\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.0 200", 0), 0u) << r;
  }
  // Headers past 8 KiB: 431 as JSON, and the server goes on.
  {
    const std::string r = raw_request(
        s.port(), "GET /v1/health HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'x') +
                      "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(r), 431) << r.substr(0, 300);
    EXPECT_NE(r.find("{\"error\": "), std::string::npos) << r.substr(0, 300);
  }
  // Not HTTP at all: 400 as JSON.
  {
    const std::string r = raw_request(s.port(), "HELLO THERE\r\n\r\n");
    EXPECT_EQ(status_of(r), 400) << r;
    EXPECT_NE(r.find("{\"error\": "), std::string::npos) << r;
  }
  EXPECT_EQ(s.client().Get("/v1/health")->status, 200);
}

TEST(ServeTransport, ConnectionsPastTheCapAreRefused) {
  const auto& d = demo();
  http_options ho;
  ho.max_connections = 3;
  served s(d.g, d.f, opts(demo_as_of), ho);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    const int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    // A whole request on each, so that the server has surely taken the connection.
    ASSERT_TRUE(send_all(fd, "GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_EQ(status_of(read_response(fd, 10000)), 200);
    held.push_back(fd);
  }
  const std::string r = raw_get(s.port(), "/v1/health");
  EXPECT_EQ(status_of(r), 503) << r;
  EXPECT_NE(r.find("too many connections"), std::string::npos) << r;
  for (int fd : held) ::close(fd);
  // Once they are closed, connections are taken again.
  std::string again;
  for (int i = 0; i < 200 && status_of(again) != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    again = raw_get(s.port(), "/v1/health");
  }
  EXPECT_EQ(status_of(again), 200) << again;
}

// --- the log ----------------------------------------------------------------------------------

TEST(ServeLog, TornTailIsCutAndDamageIsNamed) {
  temp_dir tmp;
  const std::string path = (tmp.path() / "changes.log").string();
  {
    batch_log log(path);
    log.append(5, "{\"op\": \"commit\"}\n");
    log.append(6, "second");
    log.append(7, "third, torn below");
  }
  const std::string whole = read_file(path);
  log_contents c = batch_log::recover(path);
  ASSERT_EQ(c.batches.size(), 3u);
  EXPECT_EQ(c.batches[1].seq, 6u);
  EXPECT_EQ(c.batches[1].feed, "second");
  EXPECT_EQ(c.dropped_bytes, 0u);
  // Every cut inside the last record drops just that record, and the file is cut back.
  const std::size_t last = whole.size() - (24 + std::string("third, torn below").size());
  for (std::size_t cut = last + 1; cut < whole.size(); cut += 7) {
    tmp.write("changes.log", whole.substr(0, cut));
    c = batch_log::recover(path);
    ASSERT_EQ(c.batches.size(), 2u) << cut;
    EXPECT_EQ(c.dropped_bytes, cut - last);
    EXPECT_EQ(read_file(path).size(), last);
    batch_log again(path);  // appending after the cut makes a whole log again
    again.append(7, "third again");
    EXPECT_EQ(batch_log::recover(path).batches.back().feed, "third again");
  }
  // A flipped byte fails that record's checksum: it and what follows are dropped.
  std::string bad = whole;
  bad[last - 3] ^= 0x20;
  tmp.write("changes.log", bad);
  c = batch_log::recover(path);
  EXPECT_EQ(c.batches.size(), 1u);
  // Records out of order, another file, another version: named errors.
  {
    tmp.write("changes.log", whole.substr(0, 16));
    batch_log l(path);
    l.append(3, "a");
    l.append(9, "b");
  }
  EXPECT_THROW(batch_log::recover(path), data_error);
  tmp.write("changes.log", "not a log at all");
  EXPECT_THROW(batch_log::recover(path), data_error);
  std::string v2 = whole;
  v2[8] = 2;
  tmp.write("changes.log", v2);
  try {
    batch_log::recover(path);
    ADD_FAILURE() << "version 2 read";
  } catch (const data_error& e) {
    EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(batch_log::recover((tmp.path() / "absent.log").string()).batches.empty());
}

// --- the command: durability under SIGKILL ----------------------------------------------------

namespace {

/// `b2bseg serve` as a child process, its stderr in a file.
class serve_process {
 public:
  serve_process(const std::vector<std::string>& args, const std::string& err_file)
      : err_(err_file) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      std::vector<char*> argv;
      std::string exe = B2BSEG_EXE;
      argv.push_back(exe.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~serve_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  /// The port from the "listening on" line, or -1 after `timeout_ms`.
  int port(int timeout_ms) const {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      const std::string e = read_file(err_);
      const auto at = e.find("listening on http://127.0.0.1:");
      if (at != std::string::npos) return std::atoi(e.c_str() + at + 30);
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  /// SIGTERM, then the exit status (-1 when it did not exit within `timeout_ms`).
  int term(int timeout_ms) {
    ::kill(pid_, SIGTERM);
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  std::string errors() const { return read_file(err_); }

 private:
  mutable pid_t pid_ = -1;
  std::string err_;
};

/// Batch `i` of the crash test: two people change, an event arrives, and sometimes time moves.
std::string crash_batch(std::uint64_t i) {
  static const char* levels[] = {"VP", "Director", "Manager", "C-Level", "Staff"};
  auto person = [](std::uint64_t k) {
    char b[16];
    std::snprintf(b, sizeof b, "P%07llu", (unsigned long long)(k % 1500 + 1));
    return std::string(b);
  };
  std::string s;
  for (std::uint64_t k : {i * 7, i * 13 + 5})
    s += "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"" + person(k) +
         "\", \"seniority\": \"" + levels[(i + k) % 5] +
         "\", \"lead_score\": " + std::to_string((i * 31 + k) % 100) + "}}\n";
  s += "{\"op\": \"insert\", \"entity\": \"event\", \"row\": {\"person_id\": \"" + person(i * 3) +
       "\", \"type\": \"webinar.attended\", \"timestamp\": \"2026-11-21T10:00:00Z\"}}\n";
  if (i % 5 == 0)
    s += "{\"op\": \"tick\", \"now\": \"" +
         tstext::iso_utc(demo_as_of + std::int64_t(i) * 3600000000LL) + "\"}\n";
  return s;
}

/// Arguments of `b2bseg serve` over `data` with the demo segments, a state folder, a snapshot
/// every `snapshot_every` batches, one evaluation thread, on a free loopback port.
std::vector<std::string> serve_args(const std::string& data, const std::string& state,
                                    int snapshot_every) {
  return {"serve",
          "--data",
          data,
          "--segments",
          demo_seg,
          "--listen",
          "127.0.0.1:0",
          "--state",
          state,
          "--as-of",
          "2026-11-22T00:00:00Z",
          "--snapshot-every",
          std::to_string(snapshot_every),
          "--threads",
          "1"};
}

/// Every segment's members, as the server at `port` lists them, equal those of `ref` now.
void expect_same_members(int port, const live_engine& ref, const std::string& when) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  const auto st = ref.current();
  for (const auto& sg : st->segments) {
    std::vector<std::string> want;
    for (auto it = sg.members->begin(); it != sg.members->end(); ++it)
      want.emplace_back(st->key(sg.entity, *it));
    std::sort(want.begin(), want.end());
    auto m = c.Get("/v1/segments/" + sg.name + "/members");
    ASSERT_TRUE(m) << when;
    auto got = csv_keys(m->body);
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got, want) << when << ", " << sg.name;
  }
}

}  // namespace

TEST(ServeCrash, SigkillAtRandomPointsLosesNoAnsweredBatch) {
  temp_dir tmp;
  const std::string state = (tmp.path() / "state").string();
  const auto& d = demo();
  const char* env = std::getenv("B2BSEG_SERVE_KILLS");
  const int rounds = env ? std::max(1, std::atoi(env)) : 6;
  std::mt19937 rng(12345);
  // The reference: a live engine that takes exactly the batches the server holds.
  live_engine ref(*d.g, d.f, {.as_of = demo_as_of, .lenient = false, .threads = 2});
  change_parser parser(ref.schema());
  std::uint64_t ref_seq = 0;
  std::map<std::uint64_t, std::string> answered;  // seq -> the batch
  std::uint64_t next_batch = 1;                   // the index of the next batch text
  std::uint64_t last_answered = 0;
  std::vector<std::string> args = serve_args(demo_dir, state, 7);
  args.insert(args.end(), {"--workers", "4"});
  std::string inflight;
  for (int round = 0; round <= rounds; ++round) {
    serve_process p(args, (tmp.path() / ("err" + std::to_string(round))).string());
    const int port = p.port(60000);
    ASSERT_GT(port, 0) << p.errors();
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    auto h = c.Get("/v1/health");
    ASSERT_TRUE(h) << p.errors();
    const std::uint64_t seq = std::stoull(h->body.substr(h->body.find("\"seq\": ") + 7));
    // Every answered batch survived; at most the one in flight when it died was added.
    ASSERT_GE(seq, last_answered) << "round " << round << "\n" << p.errors();
    ASSERT_LE(seq, last_answered + 1) << "round " << round;
    if (seq == last_answered + 1 && !inflight.empty()) answered[seq] = inflight;
    inflight.clear();
    last_answered = seq;
    // The reference takes the same batches; every segment must hold the same members.
    for (; ref_seq < seq; ++ref_seq) {
      std::vector<change> batch;
      std::istringstream in(answered.at(ref_seq + 1));
      std::string line;
      std::size_t n = 0;
      while (std::getline(in, line)) batch.push_back(std::get<change>(parser.parse(line, ++n)));
      ASSERT_FALSE(ref.apply(batch).failed());
    }
    ASSERT_NO_FATAL_FAILURE(expect_same_members(
        port, ref, "round " + std::to_string(round) + ", seq " + std::to_string(seq)));
    if (round == rounds) {
      EXPECT_EQ(p.term(30000), 0) << p.errors();
      break;
    }
    // Load: batches one after another until the kill, at a random moment.
    std::atomic<bool> stop{false};
    std::thread client([&] {
      httplib::Client w("127.0.0.1", port);
      w.set_read_timeout(30, 0);
      while (!stop) {
        const std::string body = crash_batch(next_batch);
        inflight = body;
        auto r = w.Post("/v1/changes", body, "application/x-ndjson");
        if (!r) break;  // the server died under it: unanswered
        if (r->status != 200) break;
        const std::uint64_t s = std::stoull(r->body.substr(r->body.find("\"seq\": ") + 7));
        answered[s] = body;
        last_answered = s;
        inflight.clear();
        ++next_batch;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 400));
    p.kill9();
    stop = true;
    client.join();
    if (!inflight.empty()) ++next_batch;  // its text is used once, whether or not it survived
  }
  EXPECT_GT(last_answered, static_cast<std::uint64_t>(rounds)) << "too few batches under load";
}

namespace {

/// The first column of every data line of CSV file `path` (the demo's ids hold no commas).
std::vector<std::string> first_column(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<std::string> out;
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line.substr(0, line.find(',')));
  return out;
}

}  // namespace

TEST(ServeSources, SourceChangesSurviveRestartsFromTheStateFolder) {
  // serve over datasets/demo-sources with --state: source changes (field updates, new Marketo
  // leads merging into CRM contacts by email, contacts deleted) are answered, the server is
  // killed and stopped, and after each restart (snapshot with its source rows, then the log)
  // every segment holds what a live engine over the folder holds after the same batches; the
  // batches after a restart re-resolve profiles from the restored source rows.
  temp_dir tmp;
  const std::string dir = std::string(B2BSEG_SOURCE_DIR) + "/datasets/demo-sources";
  const std::string state = (tmp.path() / "state").string();
  const std::vector<std::string> contacts = first_column(dir + "/salesforce/Contact.csv");
  const std::vector<std::string> leads = first_column(dir + "/marketo_na/leads.csv");
  ASSERT_GT(contacts.size(), 100u);
  ASSERT_GT(leads.size(), 100u);
  std::vector<std::string> emails;  // of the contacts, in their order
  {
    std::istringstream in(read_file(dir + "/salesforce/Contact.csv"));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::size_t at = 0;
      for (int c = 0; c < 4; ++c) at = line.find(',', at) + 1;  // Id,AccountId,First,Last,Email
      emails.push_back(line.substr(at, line.find(',', at) - at));
    }
  }
  const auto g = std::make_shared<const graph>(open_data(dir));
  const auto f = std::make_shared<const bound_file>(
      compile_segments(slurp(demo_seg), g->schema(), "demo.seg"));
  live_engine ref(*g, f, {.as_of = demo_as_of, .threads = 2, .dataset = dir});
  change_parser parser(ref.schema());
  std::set<std::string> deleted;
  auto batch_text = [&](std::uint64_t i) {
    static const char* levels[] = {"VP", "Director", "Manager", "C-Level", "Staff"};
    std::string s;
    s += R"({"op": "upsert", "entity": "person", "source": "marketo_na", "row": {"id": ")" +
         leads[(i * 7) % leads.size()] + R"(", "leadScore": ")" + std::to_string(i * 37 % 100) +
         R"(", "seniority": ")" + levels[i % 5] + R"(", "leadStatus": ")" +
         (i % 2 ? "Disqualified" : "Working") + "\"}}\n";
    const std::string& c = contacts[(i * 11) % contacts.size()];
    if (!deleted.count(c))
      s +=
          R"({"op": "upsert", "entity": "person", "source": "salesforce_contact", "row": {"Id": ")" +
          c + R"(", "Seniority__c": ")" + levels[(i + 2) % 5] + R"(", "HasOptedOutOfEmail": ")" +
          (i % 2 ? "true" : "false") + "\"}}\n";
    // A new Marketo lead with a contact's email (in other case): the two merge.
    const std::string& e = emails[(i * 5 + 3) % emails.size()];
    std::string upper = e;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (!e.empty())
      s += R"({"op": "upsert", "entity": "person", "source": "marketo_na", "row": {"id": "na-9)" +
           std::to_string(100000 + i) + R"(", "email": ")" + upper + R"(", "leadScore": "97"}})" +
           "\n";
    const std::string& d = contacts[(i * 13 + 1) % contacts.size()];
    if (i % 3 == 0 && deleted.insert(d).second)
      s +=
          R"({"op": "delete", "entity": "person", "source": "salesforce_contact", "row": {"Id": ")" +
          d + "\"}}\n";
    return s;
  };
  auto apply_ref = [&](const std::string& text) {
    std::vector<change> batch;
    std::istringstream in(text);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) batch.push_back(std::get<change>(parser.parse(line, ++n)));
    const batch_result r = ref.apply(batch);
    ASSERT_FALSE(r.failed()) << (r.errors.empty() ? "" : r.errors[0].message) << "\n" << text;
  };
  const std::vector<std::string> args = serve_args(dir, state, 3);
  std::uint64_t next = 1;
  std::size_t entered = 0, exited = 0;
  for (int round = 0; round < 3; ++round) {
    serve_process p(args, (tmp.path() / ("err" + std::to_string(round))).string());
    const int port = p.port(60000);
    ASSERT_GT(port, 0) << p.errors();
    ASSERT_NO_FATAL_FAILURE(expect_same_members(port, ref, "after start " + std::to_string(round)));
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    for (int b = 0; b < 5; ++b, ++next) {
      const std::string text = batch_text(next);
      auto r = c.Post("/v1/changes", text, "application/x-ndjson");
      ASSERT_TRUE(r) << p.errors();
      ASSERT_EQ(r->status, 200) << r->body << "\n" << text;
      ASSERT_NE(r->body.find("\"seq\": " + std::to_string(next)), std::string::npos) << r->body;
      entered += std::stoull(r->body.substr(r->body.find("\"entered\": ") + 11));
      exited += std::stoull(r->body.substr(r->body.find("\"exited\": ") + 10));
      apply_ref(text);
    }
    ASSERT_NO_FATAL_FAILURE(expect_same_members(port, ref, "round " + std::to_string(round)));
    if (round == 0)
      p.kill9();  // the snapshot after batch 3, then batches 4 and 5 from the log
    else
      ASSERT_EQ(p.term(60000), 0) << p.errors();  // a snapshot at the stop
  }
  serve_process last(args, (tmp.path() / "err-last").string());
  const int port = last.port(60000);
  ASSERT_GT(port, 0) << last.errors();
  ASSERT_NO_FATAL_FAILURE(expect_same_members(port, ref, "after the last restart"));
  EXPECT_GT(entered + exited, 5u) << "the batches changed too little to prove anything";
}

TEST(ServeCommand, RefusesBeyondLoopbackWithoutToken) {
  temp_dir tmp;
  const std::string token = tmp.write("token", "\n  \n");
  auto run = [&](const std::string& extra) {
    const std::string cmd = std::string(B2BSEG_EXE) + " serve --data " + demo_dir + " --segments " +
                            demo_seg + " " + extra + " 2>&1";
    FILE* f = popen(cmd.c_str(), "r");
    std::string out;
    char buf[512];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    const int st = pclose(f);
    return std::make_pair(WIFEXITED(st) ? WEXITSTATUS(st) : -1, out);
  };
  auto r = run("--listen 0.0.0.0:0");
  EXPECT_EQ(r.first, 2) << r.second;
  EXPECT_NE(r.second.find("--token-file"), std::string::npos) << r.second;
  r = run("--listen 0.0.0.0:0 --token-file " + token);
  EXPECT_EQ(r.first, 2) << r.second;
  EXPECT_NE(r.second.find("holds no token"), std::string::npos) << r.second;
  r = run("--listen nonsense");
  EXPECT_EQ(r.first, 2) << r.second;
  r = run("--help");
  EXPECT_EQ(r.first, 0);
  EXPECT_NE(r.second.find("curl"), std::string::npos);
}
