#pragma once

// Private to persistence/: RAII owners of LMDB handles and key/value helpers. Only
// .cpp files of this folder include it, so <lmdb.h> never leaks to other libraries.

#include <lmdb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace tutti::persistence::detail {

struct env_closer {
  void operator()(MDB_env* env) const noexcept { mdb_env_close(env); }
};

using env_ptr = std::unique_ptr<MDB_env, env_closer>;

/// A transaction that aborts on destruction unless committed. Cursors opened in it
/// must be destroyed before commit() or before the txn itself goes away.
class txn {
public:
  txn() = default;
  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;

  ~txn() {
    if (handle_ != nullptr)
      mdb_txn_abort(handle_);
  }

  /// Returns an LMDB error code, 0 on success.
  int begin(MDB_env* env, bool read_only) {
    return mdb_txn_begin(env, nullptr, read_only ? MDB_RDONLY : 0u, &handle_);
  }

  /// LMDB frees the handle whether the commit succeeds or not, so it is released
  /// first and never aborted afterwards.
  int commit() {
    auto* handle = std::exchange(handle_, nullptr);
    return mdb_txn_commit(handle);
  }

  MDB_txn* get() const noexcept { return handle_; }

private:
  MDB_txn* handle_ = nullptr;
};

/// A cursor closed on destruction. Scope it inside the transaction's lifetime.
class cursor {
public:
  cursor() = default;
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;

  ~cursor() {
    if (handle_ != nullptr)
      mdb_cursor_close(handle_);
  }

  int open(MDB_txn* txn, MDB_dbi dbi) { return mdb_cursor_open(txn, dbi, &handle_); }

  /// MDB_NOTFOUND is a normal answer; other codes are failures.
  int get(MDB_val& key, MDB_val& value, MDB_cursor_op op) {
    return mdb_cursor_get(handle_, &key, &value, op);
  }

  int del() { return mdb_cursor_del(handle_, 0); }

private:
  MDB_cursor* handle_ = nullptr;
};

/// A view of `bytes` for LMDB. LMDB's API is not const-correct, but it never writes
/// through the key or the data of mdb_put/mdb_get/mdb_del.
inline MDB_val to_val(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

inline std::string_view to_view(const MDB_val& val) {
  return {static_cast<const char*>(val.mv_data), val.mv_size};
}

/// Big-endian so that LMDB's byte-wise key order is numeric order.
inline std::string encode_u64(uint64_t x) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(x & 0xff);
    x >>= 8;
  }
  return out;
}

/// Decodes the last 8 bytes of `bytes` (callers check the size).
inline uint64_t decode_u64(std::string_view bytes) {
  uint64_t x = 0;
  for (auto c : bytes.substr(bytes.size() - 8))
    x = (x << 8) | static_cast<uint8_t>(c);
  return x;
}

/// `name` NUL `suffix`: names never contain NUL, so all keys of one name are
/// contiguous and no other name's keys sort between them.
inline std::string prefixed_key(std::string_view name, uint64_t suffix) {
  std::string out;
  out.reserve(name.size() + 9);
  out.append(name);
  out.push_back('\0');
  out.append(encode_u64(suffix));
  return out;
}

/// True when `key` was made by prefixed_key(name, ...).
inline bool has_name_prefix(std::string_view key, std::string_view name) {
  return key.size() == name.size() + 9 && key.substr(0, name.size()) == name &&
         key[name.size()] == '\0';
}

} // namespace tutti::persistence::detail
