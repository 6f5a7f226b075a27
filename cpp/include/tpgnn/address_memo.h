/*!
 * \file tpgnn/address_memo.h
 * \brief An open-addressing map from object address to node id.
 *
 * The IR is a DAG, so the walk memoises every object; this table is the hot path of the pass
 * and is kept between calls so its memory is reused.
 */
#ifndef TPGNN_ADDRESS_MEMO_H_
#define TPGNN_ADDRESS_MEMO_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tpgnn {

/*! \brief Map from object address to node id; linear probing, load factor at most 1/2. */
class AddressMemo {
 public:
  void Reset(size_t expected) {
    size_t cap = 64;
    while (cap < expected * 2) cap <<= 1;
    if (slots_.size() < cap)
      slots_.assign(cap, Slot{});
    else
      std::fill(slots_.begin(), slots_.end(), Slot{});
    mask_ = slots_.size() - 1;
    size_ = 0;
  }
  /*! \return {id, inserted}: the existing id, or `next_id` newly stored. */
  std::pair<int32_t, bool> FindOrInsert(const void* key, int32_t next_id) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    size_t i = Hash(key) & mask_;
    while (slots_[i].key != nullptr) {
      if (slots_[i].key == key) return {slots_[i].id, false};
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{key, next_id};
    ++size_;
    return {next_id, true};
  }

 private:
  struct Slot {
    const void* key = nullptr;
    int32_t id = -1;
  };
  static size_t Hash(const void* p) {
    uint64_t x = reinterpret_cast<uintptr_t>(p) >> 4;
    return static_cast<size_t>(x * 0x9E3779B97F4A7C15ull >> 17);
  }
  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.key == nullptr) continue;
      size_t i = Hash(s.key) & mask_;
      while (slots_[i].key != nullptr) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace tpgnn

#endif  // TPGNN_ADDRESS_MEMO_H_
