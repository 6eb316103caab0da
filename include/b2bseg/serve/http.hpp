// `b2bseg serve` over HTTP/1.1 (SPEC 7), with cpp-httplib (Debian's libcpp-httplib-dev): a
// bounded pool of worker threads, keep-alive, a body limit, read timeouts, and one log line per
// request. Every request goes to `service::handle`; nothing on disk is ever served.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "b2bseg/common/error.hpp"
#include "b2bseg/serve/service.hpp"

namespace b2bseg {

/// How the HTTP server listens and what it tolerates.
struct http_options {
  std::string host = "127.0.0.1";
  int port = 8080;                               ///< 0: any free port (see `bind`)
  std::size_t max_body = std::size_t{64} << 20;  ///< larger bodies get 413
  unsigned workers = 32;                         ///< connections served at once
  int read_timeout_s = 5;               ///< a client that sends nothing this long is dropped
  int keep_alive_timeout_s = 5;         ///< an idle keep-alive connection is closed after this
  std::size_t keep_alive_max = 100000;  ///< requests on one connection
  /// A line per request (method, path, status, µs); null: none. Not owned: it must stay open
  /// until the server is destroyed (its log thread writes until then).
  std::FILE* log = stderr;
};

/// Whether `host` names this machine only (127.0.0.0/8, ::1, localhost): listening elsewhere
/// without a token is refused.
inline bool is_loopback(std::string_view host) noexcept {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.substr(0, 4) == "127.";
}

namespace detail::serve {
inline thread_local std::chrono::steady_clock::time_point request_start{};

/// The message of an error the HTTP library answers by itself.
inline const char* status_text(int status) noexcept {
  switch (status) {
    case 400:
      return "malformed request";
    case 404:
      return "no such path";
    case 408:
      return "the request took too long to arrive";
    case 413:
      return "the request body is too large (see --max-body)";
    case 414:
      return "the request line is too long";
    case 431:
      return "the request headers are too large";
    default:
      return status >= 500 ? "internal error" : "the request cannot be answered";
  }
}

/// The request log: lines gathered under a lock and written by a thread of its own every 20 ms
/// (or past 64 KiB), whole lines only, so that a request costs an append, not a write(2): on a
/// 2-core machine that system call was a tenth of a look-up's time.
class line_log {
 public:
  explicit line_log(std::FILE* f) : f_(f), thread_([this] { loop(); }) {}
  line_log(const line_log&) = delete;
  line_log& operator=(const line_log&) = delete;
  ~line_log() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void add(std::string_view line) {
    std::lock_guard<std::mutex> lk(mu_);
    buf_ += line;
    if (buf_.size() > (std::size_t{1} << 16)) cv_.notify_one();
  }

 private:
  void loop() {
    std::string out;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait_for(lk, std::chrono::milliseconds(20),
                   [&] { return stop_ || buf_.size() > (std::size_t{1} << 16); });
      out.swap(buf_);
      const bool stop = stop_;
      lk.unlock();
      if (!out.empty()) {
        std::fwrite(out.data(), 1, out.size(), f_);
        std::fflush(f_);
        out.clear();
      }
      lk.lock();
      if (stop && buf_.empty()) return;
    }
  }

  std::FILE* f_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string buf_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace detail::serve

/// The HTTP front of a `service`. Construct, `bind`, then `run` (blocks) until `stop` (from any
/// thread, e.g. a signal handler's thread): the listening socket closes and `run` returns once
/// the requests in hand are answered.
class http_server {
 public:
  http_server(service& svc, http_options o) : svc_(svc), opts_(std::move(o)) {
    const unsigned n = opts_.workers ? opts_.workers : 1;
    svr_.new_task_queue = [n] { return new httplib::ThreadPool(n); };
    svr_.set_payload_max_length(opts_.max_body);
    svr_.set_read_timeout(opts_.read_timeout_s, 0);
    svr_.set_write_timeout(opts_.read_timeout_s, 0);
    svr_.set_keep_alive_timeout(opts_.keep_alive_timeout_s);
    svr_.set_keep_alive_max_count(opts_.keep_alive_max);
    svr_.set_tcp_nodelay(true);  // small answers go out at once
    // SO_REUSEADDR for quick restarts, but not httplib's default SO_REUSEPORT, with which a
    // second server on the same port would bind too and take half the connections.
    svr_.set_socket_options([this](socket_t fd) {
      int yes = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      listen_fd_ = fd;
    });
    using HR = httplib::Server::HandlerResponse;
    // Requests without a body are answered before any routing by pattern.
    svr_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      detail::serve::request_start = std::chrono::steady_clock::now();
      if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
        // A body announced too large is refused before any of it is read (the library would
        // read until its timeout first), and the connection closed.
        const auto length = req.get_header_value("Content-Length");
        if (length.size() > 19 || (!length.empty() && std::stoull(length) > opts_.max_body)) {
          serve_reply r = detail::serve::error_reply(413, detail::serve::status_text(413));
          res.status = 413;
          res.set_header("Connection", "close");
          res.set_content(r.body, r.content_type);
          return HR::Handled;
        }
        return HR::Unhandled;  // the body is read first, then `answer`
      }
      answer(req, res);
      return HR::Handled;
    });
    auto with_body = [this](const httplib::Request& req, httplib::Response& res) {
      answer(req, res);
    };
    svr_.Post(".*", with_body);
    svr_.Put(".*", with_body);
    svr_.Patch(".*", with_body);
    // What httplib refuses itself (413, a malformed request) is answered as JSON too.
    svr_.set_error_handler(
        httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
          if (!res.body.empty()) return HR::Unhandled;
          serve_reply r =
              detail::serve::error_reply(res.status, detail::serve::status_text(res.status));
          res.set_content(r.body, r.content_type);
          return HR::Handled;
        }));
    svr_.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          serve_reply r = detail::serve::error_reply(500, "internal error");
          res.status = 500;
          res.set_content(r.body, r.content_type);
        });
    if (opts_.log) log_ = std::make_unique<detail::serve::line_log>(opts_.log);
    if (opts_.log)
      svr_.set_logger(
          [this](const httplib::Request& req, const httplib::Response& res) { log(req, res); });
  }

  /// Binds the listening socket; returns the port (the one chosen when `port` is 0). Throws
  /// data_error when the address cannot be bound.
  int bind() {
    if (opts_.port == 0) {
      port_ = svr_.bind_to_any_port(opts_.host);
      if (port_ < 0) throw data_error("cannot listen on " + opts_.host + " (any port)");
    } else {
      if (!svr_.bind_to_port(opts_.host, opts_.port))
        throw data_error("cannot listen on " + opts_.host + ":" + std::to_string(opts_.port) +
                         " (in use, or not an address of this machine)");
      port_ = opts_.port;
    }
    // The library listens with a backlog of 5: a burst of connections would wait for SYN
    // retries (1 s, then 3 s). Listening again on the socket only raises the backlog.
    if (listen_fd_ >= 0) ::listen(listen_fd_, SOMAXCONN);
    return port_;
  }

  /// Serves until `stop`. Returns false when the server failed.
  bool run() { return svr_.listen_after_bind(); }
  /// Stops listening; `run` returns once the requests in hand are answered. Thread-safe.
  void stop() { svr_.stop(); }
  bool running() const { return svr_.is_running(); }
  int port() const noexcept { return port_; }

 private:
  void answer(const httplib::Request& req, httplib::Response& res) {
    const std::string auth = req.get_header_value("Authorization");
    const serve_request rq{req.method, req.target, auth, req.body};
    serve_reply r = svc_.handle(rq);
    res.status = r.status;
    for (auto& [k, v] : r.headers) res.set_header(k, v);
    res.set_content(std::move(r.body), r.content_type);
  }

  void log(const httplib::Request& req, const httplib::Response& res) const {
    auto& start = detail::serve::request_start;
    long long us = 0;
    if (start != std::chrono::steady_clock::time_point{})
      us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 start)
               .count();
    start = {};
    std::string_view path = req.target;
    path = path.substr(0, path.find('?'));
    if (path.size() > 256) path = path.substr(0, 256);
    std::string line = detail::escape_controls(req.method.substr(0, 16) + " " + std::string(path));
    line += " " + std::to_string(res.status) + " " + std::to_string(us) + "us\n";
    log_->add(line);
  }

  service& svc_;
  http_options opts_;
  std::unique_ptr<detail::serve::line_log> log_;  // before svr_: outlives its workers
  httplib::Server svr_;
  int port_ = -1;
  socket_t listen_fd_ = -1;
};

}  // namespace b2bseg
