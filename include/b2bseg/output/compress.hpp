// Whole-buffer compression for output files: gzip (zlib) and zstd (libzstd).
#pragma once

#include <zlib.h>
#include <zstd.h>

#include <string>
#include <string_view>

#include "b2bseg/common/error.hpp"

namespace b2bseg {

/// `data` as one gzip member (RFC 1952), zlib's default level. Throws data_error on a zlib
/// failure (out of memory). O(size).
inline std::string gzip_compress(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw data_error("gzip: cannot start the compressor");
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int r = deflate(&z, Z_FINISH);
  const std::size_t n = z.total_out;
  deflateEnd(&z);
  if (r != Z_STREAM_END) throw data_error("gzip: compression failed");
  out.resize(n);
  return out;
}

/// `data` as one zstd frame, level 3 (zstd's default). Throws data_error on failure. O(size).
inline std::string zstd_compress(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  if (ZSTD_isError(n)) throw data_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

}  // namespace b2bseg
