// `b2bseg serve` over HTTP/1.1 (SPEC 7), with Boost.Beast's parser and serializer on Boost.Asio
// (Debian's libboost-dev, header-only): one event loop per core watches every connection and
// answers look-ups, change batches go to the service's writer, a bounded pool answers the other
// requests that may take long; keep-alive, a body limit, read and idle timeouts, and one log
// line per request. Every request goes to `service::submit_batch` or `service::handle`; nothing
// on disk is ever served.
//
// Why not a thread per connection (cpp-httplib, which this replaced): there each look-up cost
// six system calls (poll, recv, poll, send, poll, send) and two thread switches; on the 2-core
// machine that was half the CPU of a look-up. Here a look-up costs a recv and a writev, answered
// on the loop's thread (bench/README.md, "Serving", has both measured side by side).
#pragma once

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/serve/service.hpp"

namespace b2bseg {

/// How the HTTP server listens and what it tolerates.
struct http_options {
  std::string host = "127.0.0.1";
  int port = 8080;                               ///< 0: any free port (see `bind`)
  std::size_t max_body = std::size_t{64} << 20;  ///< larger bodies get 413
  /// Threads for the requests that may take long (member lists, the change history,
  /// explanations): at most this many of those are answered at once, the rest queue. Change
  /// batches need none: the service's writer answers them.
  unsigned workers = 32;
  unsigned io_threads = 0;  ///< event-loop threads (they answer look-ups); 0: one per core
  std::size_t max_connections = 10000;  ///< connections beyond this are closed at once
  int read_timeout_s = 5;        ///< a request's header, and then its body, must arrive within this
  int keep_alive_timeout_s = 5;  ///< an idle keep-alive connection is closed after this
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

/// The message of an error the HTTP layer answers by itself.
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
    case 431:
      return "the request line or headers are too large";
    case 503:
      return "too many connections";
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

inline std::string_view to_std(boost::beast::string_view s) noexcept {
  return {s.data(), s.size()};
}

}  // namespace detail::serve

/// The HTTP front of a `service`. Construct, `bind`, then `run` (blocks) until `stop` (from any
/// thread, e.g. a signal handler's thread): the listening socket closes, idle connections close,
/// and `run` returns once the requests in hand are answered. Not copyable; destroy it only
/// after `run` returned (or when it never ran).
class http_server {
  using clock = std::chrono::steady_clock;
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;
  class session;

 public:
  http_server(service& svc, http_options o)
      : svc_(svc),
        opts_(std::move(o)),
        acceptor_(boost::asio::make_strand(ioc_)),
        retry_(acceptor_.get_executor()),
        pool_(opts_.workers ? opts_.workers : 1) {
    if (opts_.log) log_ = std::make_unique<detail::serve::line_log>(opts_.log);
  }
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  ~http_server() {
    pool_.join();  // queued answers finish (their connections are gone with the loop)
  }

  /// Binds the listening socket; returns the port (the one chosen when `port` is 0). Throws
  /// data_error when the address cannot be bound.
  int bind() {
    std::string host = opts_.host;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    const std::string where =
        opts_.port ? opts_.host + ":" + std::to_string(opts_.port) : opts_.host + " (any port)";
    error_code ec;
    tcp::resolver resolver(ioc_);
    auto found = resolver.resolve(host, std::to_string(opts_.port),
                                  tcp::resolver::numeric_service | tcp::resolver::passive, ec);
    if (ec || found.empty())
      throw data_error("cannot listen on " + where + " (not an address of this machine)");
    const tcp::endpoint ep = found.begin()->endpoint();
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    // A full backlog: a burst of connections must not wait for SYN retries (1 s, then 3 s).
    if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error_code ignored;
      acceptor_.close(ignored);
      throw data_error("cannot listen on " + where +
                       " (in use, or not an address of this machine)");
    }
    port_ = acceptor_.local_endpoint(ec).port();
    return port_;
  }

  /// Serves until `stop`, on this thread and `io_threads - 1` more. Returns false when the
  /// server was never bound.
  bool run() {
    if (!acceptor_.is_open()) return false;
    boost::asio::dispatch(acceptor_.get_executor(), [this] { accept(); });
    unsigned n = opts_.io_threads ? opts_.io_threads : std::thread::hardware_concurrency();
    n = std::max(1u, n);
    std::vector<std::thread> more;
    for (unsigned i = 1; i < n; ++i) more.emplace_back([this] { loop(); });
    running_ = true;
    loop();
    for (auto& t : more) t.join();
    running_ = false;
    return true;
  }

  /// Stops listening and closes idle connections; `run` returns once the requests in hand are
  /// answered. Thread-safe; calls after the first do nothing more.
  void stop();
  /// Whether `run` is serving (false again once it returned).
  bool running() const { return running_; }
  int port() const noexcept { return port_; }

 private:
  // The loop of one thread: an exception escaping a handler is logged, and the loop goes on.
  void loop() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        if (svc_.log_error) svc_.log_error(std::string("http: ") + e.what());
      }
    }
  }

  void accept();

  // A connection past `max_connections`: a 503 if the socket takes it at once, then closed.
  void refuse(tcp::socket s) {
    serve_reply r = detail::serve::error_reply(503, detail::serve::status_text(503));
    std::string text =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nContent-Length: " +
        std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
    error_code ec;
    s.non_blocking(true, ec);
    s.send(boost::asio::buffer(text), 0, ec);
    s.close(ec);
  }

  void log(std::string_view method, std::string_view target, int status, clock::time_point t0) {
    if (!log_) return;
    const long long us =
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count();
    std::string_view path = target.substr(0, target.find('?'));
    if (path.size() > 256) path = path.substr(0, 256);
    std::string line(method.substr(0, 16));
    line += ' ';
    line += path;
    line = detail::escape_controls(line);
    line += ' ';
    line += std::to_string(status);
    line += ' ';
    line += std::to_string(us);
    line += "us\n";
    log_->add(line);
  }

  // In this order: the pool goes first (its jobs hold sessions and the loop's work), then the
  // loop (whose handlers may hold sessions, which take `mu_` as they go), then the rest.
  service& svc_;
  http_options opts_;
  std::unique_ptr<detail::serve::line_log> log_;
  std::mutex mu_;
  std::unordered_set<session*> sessions_;  // open connections, for `stop`
  std::atomic<bool> stopping_{false}, running_{false};
  int port_ = -1;
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;  // accepting again after a failure
  boost::asio::thread_pool pool_;    // requests that may take long
};

/// One connection: read a request (header, then body), answer it (on the loop's thread, by the
/// service's writer for a batch, or on the pool when it may take long), write the answer, again
/// while kept alive. Everything of a session
/// runs on its strand; one timer enforces its deadline, moved forward lazily.
class http_server::session : public std::enable_shared_from_this<session> {
  using request = boost::beast::http::request<boost::beast::http::string_body>;

 public:
  session(http_server& srv, tcp::socket sock)
      : srv_(srv), sock_(std::move(sock)), timer_(sock_.get_executor()) {
    std::lock_guard<std::mutex> lk(srv_.mu_);
    srv_.sessions_.insert(this);
  }
  ~session() {
    std::lock_guard<std::mutex> lk(srv_.mu_);
    srv_.sessions_.erase(this);
  }

  void start() {
    error_code ec;
    sock_.set_option(tcp::no_delay(true), ec);  // small answers go out at once
    boost::asio::dispatch(sock_.get_executor(), [self = shared_from_this()] {
      self->deadline_ = clock::now();
      self->read_header();
    });
  }

  /// From `stop` (under the server's lock): closes the connection when it waits for a request.
  void close_if_idle() {
    boost::asio::post(sock_.get_executor(), [w = weak_from_this()] {
      if (auto self = w.lock(); self && self->idle_) self->close();
    });
  }

 private:
  // --- deadline ------------------------------------------------------------------------------
  void set_deadline(clock::duration d) {
    deadline_ = d == clock::duration::max() ? clock::time_point::max() : clock::now() + d;
    if (!armed_ || deadline_ < armed_at_) arm(deadline_);
  }
  void arm(clock::time_point at) {
    if (closed_) return;  // a closed connection keeps nothing waiting
    armed_ = true;
    armed_at_ = at;
    timer_.expires_at(at);  // cancels the wait in flight, whose handler then does nothing
    timer_.async_wait([self = shared_from_this(), at](const error_code& ec) {
      if (ec || self->closed_ || self->armed_at_ != at) return;
      if (clock::now() >= self->deadline_)
        self->close();  // a client that sends (or takes) nothing in time is dropped
      else
        self->arm(self->deadline_);
    });
  }

  static clock::duration seconds(int s) { return std::chrono::seconds(std::max(1, s)); }

  // --- reading -------------------------------------------------------------------------------
  void read_header() {
    if (closed_) return;
    if (srv_.stopping_) return close();
    parser_.emplace();
    parser_->header_limit(8192);
    parser_->body_limit(srv_.opts_.max_body);
    idle_ = true;
    set_deadline(seconds(std::max(srv_.opts_.keep_alive_timeout_s, srv_.opts_.read_timeout_s)));
    boost::beast::http::async_read_header(
        sock_, buf_, *parser_, [self = shared_from_this()](const error_code& ec, std::size_t) {
          self->idle_ = false;
          if (ec) return self->failed(ec);
          self->started_ = clock::now();
          self->read_body();
        });
  }

  void read_body() {
    set_deadline(seconds(srv_.opts_.read_timeout_s));
    if (parser_->is_done()) return answer();
    const request& rq = parser_->get();
    if (rq.version() >= 11 &&
        boost::beast::iequals(rq[boost::beast::http::field::expect], "100-continue")) {
      static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      boost::asio::async_write(sock_, boost::asio::buffer(go_on.data(), go_on.size()),
                               [self = shared_from_this()](const error_code& ec, std::size_t) {
                                 if (ec) return self->close();
                                 self->read_rest();
                               });
      return;
    }
    read_rest();
  }

  void read_rest() {
    boost::beast::http::async_read(sock_, buf_, *parser_,
                                   [self = shared_from_this()](const error_code& ec, std::size_t) {
                                     if (ec) return self->failed(ec);
                                     self->answer();
                                   });
  }

  // A request that could not be read: answered with the status that says why, or (the client
  // went away, or the connection timed out) closed.
  void failed(const error_code& ec) {
    namespace http = boost::beast::http;
    if (closed_ || ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == boost::asio::error::operation_aborted || ec == boost::asio::error::eof ||
        ec == boost::asio::error::connection_reset)
      return close();
    int status = 400;
    if (ec == http::error::body_limit) status = 413;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) status = 431;
    started_ = clock::now();
    const std::string target = parser_ && parser_->is_header_done()
                                   ? std::string(parser_->get().target())
                                   : std::string("-");
    srv_.log("-", target, status, started_);
    reply(detail::serve::error_reply(status, detail::serve::status_text(status)), false, false, 11);
  }

  // --- answering -----------------------------------------------------------------------------
  void answer() {
    const request& rq = parser_->get();
    const serve_request sr{
        detail::serve::to_std(rq.method_string()), detail::serve::to_std(rq.target()),
        detail::serve::to_std(rq[boost::beast::http::field::authorization]), rq.body()};
    if (!service::may_block(sr)) return answered(srv_.svc_.handle(sr));
    // Off the loop: its other connections go on meanwhile. The loop waits for this answer (the
    // work guard), which comes back to this connection's strand.
    set_deadline(clock::duration::max());
    // Hands an answer back to this connection's strand, from whichever thread made it.
    auto back = [self = shared_from_this(),
                 work = boost::asio::make_work_guard(srv_.ioc_)](serve_reply r) mutable {
      boost::asio::post(self->sock_.get_executor(),
                        [self, r = std::move(r)]() mutable { self->answered(std::move(r)); });
      work.reset();
    };
    // A change batch goes straight to the service's writer, which answers when it is applied.
    if (srv_.svc_.submit_batch(sr, back)) return;
    // Anything else that may take long: answered on the pool, delivered the same way.
    boost::asio::post(srv_.pool_, [&svc = srv_.svc_, sr, back = std::move(back)]() mutable {
      back(svc.handle(sr));
    });
  }

  void answered(serve_reply r) {
    const request& rq = parser_->get();
    ++served_;
    const bool keep = rq.keep_alive() && served_ < srv_.opts_.keep_alive_max && !srv_.stopping_;
    srv_.log(detail::serve::to_std(rq.method_string()), detail::serve::to_std(rq.target()),
             r.status, started_);
    reply(std::move(r), keep, rq.method() == boost::beast::http::verb::head, rq.version());
  }

  void reply(serve_reply r, bool keep, bool head, unsigned version) {
    namespace http = boost::beast::http;
    res_ = {};
    res_.version(version == 10 ? 10 : 11);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res_.set(k, v);
    res_.keep_alive(keep);
    if (head) {
      res_.content_length(r.body.size());  // what a GET would send, without the body
    } else {
      res_.body() = std::move(r.body);
      res_.prepare_payload();
    }
    // A slow reader gets the read timeout plus a second per MiB of the answer.
    set_deadline(seconds(srv_.opts_.read_timeout_s) +
                 std::chrono::seconds(res_.body().size() >> 20));
    http::async_write(sock_, res_,
                      [self = shared_from_this(), keep](const error_code& ec, std::size_t) {
                        if (ec) return self->close();
                        self->res_ = {};
                        if (keep) return self->read_header();
                        self->linger();
                      });
  }

  // After the last answer: no more sending, and what the client still sends (a body refused
  // unread) is read and dropped for a second, so that closing does not reset the connection
  // before the client has read the answer.
  void linger() {
    error_code ec;
    sock_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    set_deadline(std::chrono::seconds(1));
    drain();
  }
  void drain() {
    sock_.async_read_some(boost::asio::buffer(scratch_),
                          [self = shared_from_this()](const error_code& ec, std::size_t) {
                            if (ec) return self->close();
                            self->drain();
                          });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    idle_ = false;
    error_code ec;
    timer_.cancel();
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
  }

  http_server& srv_;
  tcp::socket sock_;
  boost::asio::steady_timer timer_;
  boost::beast::flat_buffer buf_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::response<boost::beast::http::string_body> res_;
  clock::time_point deadline_{}, armed_at_{}, started_{};
  std::size_t served_ = 0;
  bool armed_ = false, idle_ = false, closed_ = false;
  char scratch_[4096];
};

inline void http_server::stop() {
  if (stopping_.exchange(true)) return;
  boost::asio::post(acceptor_.get_executor(), [this] {
    error_code ec;
    acceptor_.close(ec);
    retry_.cancel();
    std::lock_guard<std::mutex> lk(mu_);
    for (session* s : sessions_) s->close_if_idle();
  });
}

inline void http_server::accept() {
  acceptor_.async_accept(boost::asio::make_strand(ioc_),
                         [this](const error_code& ec, tcp::socket s) {
                           if (stopping_ || !acceptor_.is_open()) return;
                           if (ec) {
                             // Out of descriptors (or another passing failure): try again shortly,
                             // never spin.
                             retry_.expires_after(std::chrono::milliseconds(50));
                             retry_.async_wait([this](const error_code& e) {
                               if (!e && !stopping_) accept();
                             });
                             return;
                           }
                           std::size_t open = 0;
                           {
                             std::lock_guard<std::mutex> lk(mu_);
                             open = sessions_.size();
                           }
                           if (open >= opts_.max_connections)
                             refuse(std::move(s));
                           else
                             std::make_shared<session>(*this, std::move(s))->start();
                           accept();
                         });
}

}  // namespace b2bseg
