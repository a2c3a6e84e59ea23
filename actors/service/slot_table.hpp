#pragma once

// The slots of a service by number, with the interface of the std::map it
// replaces (find, operator[], erase, count, ordered iteration over pairs of slot
// and state). Slot numbers are dense (a new slot takes the lowest free one), so
// an entry is found by indexing a vector, not by walking a tree of 10,000
// nodes: at a million replicas that walk was a dozen cache misses per status
// report, placement answer and lost replica. Entries are held by pointer, so a
// reference to one stays valid while others come and go.

#include <cstdint>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tutti::actors {

template <class T> class slot_table {
public:
  using key_type = int32_t;
  using value_type = std::pair<const int32_t, T>;
  using storage = std::vector<std::unique_ptr<value_type>>;

  template <class V> class basic_iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = V;
    using difference_type = std::ptrdiff_t;
    using pointer = V*;
    using reference = V&;

    basic_iterator() = default;
    basic_iterator(const storage* xs, size_t at) : xs_(xs), at_(at) { skip(); }
    // iterator -> const_iterator
    template <class W>
    basic_iterator(const basic_iterator<W>& x) : xs_(x.xs_), at_(x.at_) {} // NOLINT

    reference operator*() const { return *(*xs_)[at_]; }
    pointer operator->() const { return (*xs_)[at_].get(); }
    basic_iterator& operator++() {
      ++at_;
      skip();
      return *this;
    }
    basic_iterator operator++(int) {
      auto copy = *this;
      ++*this;
      return copy;
    }
    friend bool operator==(const basic_iterator& x, const basic_iterator& y) {
      return x.at_end() ? y.at_end() : x.at_ == y.at_;
    }
    friend bool operator!=(const basic_iterator& x, const basic_iterator& y) { return !(x == y); }

  private:
    template <class> friend class basic_iterator;
    friend class slot_table;
    bool at_end() const { return xs_ == nullptr || at_ >= xs_->size(); }
    void skip() {
      while (xs_ != nullptr && at_ < xs_->size() && !(*xs_)[at_])
        ++at_;
    }
    const storage* xs_ = nullptr;
    size_t at_ = 0;
  };

  using iterator = basic_iterator<value_type>;
  using const_iterator = basic_iterator<const value_type>;

  iterator begin() { return {&xs_, 0}; }
  iterator end() { return {&xs_, xs_.size()}; }
  const_iterator begin() const { return {&xs_, 0}; }
  const_iterator end() const { return {&xs_, xs_.size()}; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  iterator find(int32_t slot) {
    return has(slot) ? iterator{&xs_, static_cast<size_t>(slot)} : end();
  }
  const_iterator find(int32_t slot) const {
    return has(slot) ? const_iterator{&xs_, static_cast<size_t>(slot)} : end();
  }
  size_t count(int32_t slot) const { return has(slot) ? 1 : 0; }

  /// The slot's state, made (default) if it has none.
  T& operator[](int32_t slot) {
    if (slot < 0)
      throw std::out_of_range("slot_table: negative slot " + std::to_string(slot));
    auto at = static_cast<size_t>(slot);
    if (at >= xs_.size())
      xs_.resize(at + 1);
    if (!xs_[at]) {
      xs_[at] = std::make_unique<value_type>(slot, T{});
      ++size_;
    }
    return xs_[at]->second;
  }

  size_t erase(int32_t slot) {
    if (!has(slot))
      return 0;
    // The index keeps its length (8 bytes a slot ever used): iterators past the
    // erased entry stay good, as they do in a map.
    xs_[static_cast<size_t>(slot)].reset();
    --size_;
    return 1;
  }

private:
  bool has(int32_t slot) const {
    return slot >= 0 && static_cast<size_t>(slot) < xs_.size() && xs_[static_cast<size_t>(slot)];
  }

  storage xs_;
  size_t size_ = 0;
};

} // namespace tutti::actors
