// A set of values found by a key each of them holds, whose copies share structure: a persistent
// hash array mapped trie (HAMT). It is the request path's index where an ordered PersistentMap is
// too slow to walk: finding one of 100,000 keys touches 3 or 4 nodes, not the 17 nodes and 17
// string comparisons of a balanced tree, and compares one key. Copying one is O(1); a change
// copies the nodes on one path (O(log32 n), a few hundred bytes) and leaves every copy as it was.
//
// The trie holds pointers, not values: it indexes values someone else owns (access/
// instance_table.h keeps it beside the PersistentMap that holds them), so a copy costs no value
// copy and an entry 16 bytes. Whoever changes the owner's values changes the trie with them.
//
// Layout (the CHAMP variant): a node covers 5 bits of the 64-bit hash and holds, in one
// allocation, a bitmap of the slots holding an entry (hash and pointer, inline), a bitmap of the
// slots holding a child node, then the entries and the children, each in slot order; popcount
// of the bits below a slot gives its index. An entry moves down only when another hash shares
// its bits so far, so a lookup ends at the first entry it meets. Hashes equal in all 64 bits
// share a collision node, a plain list. A removal that leaves a child one entry pulls the entry
// back up, so the trie stays as shallow as its keys allow.
//
// Thread safety: as a std::map's. Const methods may run on many threads at once; changing a trie
// needs it alone. Copies sharing nodes are distinct objects (node counts are atomic).
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string_view>
#include <utility>

namespace kura::core {

// KeyOf()(const T&) gives a value's key; Hash()(key) hashes a key (and any Q that Find and Erase
// are given, which must hash as the key equal to it does). Tests pass a Hash that collides.
template <typename T, typename KeyOf, typename Hash = std::hash<std::string_view>>
class HashTrie {
 public:
  HashTrie() = default;
  HashTrie(const HashTrie& other) : root_(Ref(other.root_)), size_(other.size_) {}
  HashTrie(HashTrie&& other) noexcept
      : root_(std::exchange(other.root_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  HashTrie& operator=(HashTrie other) noexcept {
    std::swap(root_, other.root_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~HashTrie() { Unref(root_); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The value whose key equals `key`, or nullptr.
  template <typename Q>
  const T* Find(const Q& key) const {
    const uint64_t hash = HashOf(key);
    const Node* n = root_;
    for (int shift = 0; n != nullptr; shift += kBits) {
      if (n->collision) {
        for (uint32_t i = 0; i < n->datamap; ++i) {
          if (Matches(n->entries()[i], hash, key)) return n->entries()[i].value;
        }
        return nullptr;
      }
      const uint32_t bit = Bit(hash, shift);
      if ((n->datamap & bit) != 0) {
        const Entry& e = n->entries()[Index(n->datamap, bit)];
        return Matches(e, hash, key) ? e.value : nullptr;
      }
      if ((n->nodemap & bit) == 0) return nullptr;
      n = n->children(Entries(n))[Index(n->nodemap, bit)];
    }
    return nullptr;
  }

  // Adds `value`, or puts it in place of the value of the same key. Returns whether it was added.
  // The trie keeps the pointer: the value must outlive every copy of the trie that holds it.
  bool Set(const T* value) {
    bool added = false;
    Node* root = Insert(root_, Entry{HashOf(KeyOf()(*value)), value}, 0, true, added);
    Unref(std::exchange(root_, root));
    if (added) ++size_;
    return added;
  }

  // Removes the value of `key`. Returns whether there was one.
  template <typename Q>
  bool Erase(const Q& key) {
    bool removed = false;
    Node* root = Remove(root_, HashOf(key), key, 0, removed);
    if (!removed) return false;
    Unref(std::exchange(root_, root));
    --size_;
    return true;
  }

  // Calls visit(const T&) for every value, in no particular order.
  template <typename Visit>
  void ForEach(Visit&& visit) const {
    Walk(root_, visit);
  }

  // The trie's depth: the most nodes a lookup visits (a test's measure of its shape).
  int depth() const { return Depth(root_); }

 private:
  static constexpr int kBits = 5;

  struct Entry {
    uint64_t hash;
    const T* value;
  };
  // Followed in the same allocation by its entries, then its children.
  struct Node {
    std::atomic<uint32_t> refs{1};
    // Slots holding an entry; in a collision node, the number of entries.
    uint32_t datamap = 0;
    // Slots holding a child; none in a collision node.
    uint32_t nodemap = 0;
    bool collision = false;

    Entry* entries() { return reinterpret_cast<Entry*>(this + 1); }
    const Entry* entries() const { return reinterpret_cast<const Entry*>(this + 1); }
    Node** children(uint32_t entry_count) {
      return reinterpret_cast<Node**>(entries() + entry_count);
    }
    Node* const* children(uint32_t entry_count) const {
      return reinterpret_cast<Node* const*>(entries() + entry_count);
    }
  };
  static_assert(sizeof(Node) % alignof(Entry) == 0);

  template <typename Q>
  static uint64_t HashOf(const Q& key) {
    return static_cast<uint64_t>(Hash()(key));
  }
  template <typename Q>
  static bool Matches(const Entry& e, uint64_t hash, const Q& key) {
    return e.hash == hash && KeyOf()(*e.value) == key;
  }
  // std::popcount, which without -mpopcnt is a call into libgcc on every level of a lookup.
  static uint32_t Popcount(uint32_t x) {
#ifdef __POPCNT__
    return static_cast<uint32_t>(std::popcount(x));
#else
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0fu;
    return (x * 0x01010101u) >> 24;
#endif
  }
  static uint32_t Bit(uint64_t hash, int shift) { return uint32_t{1} << ((hash >> shift) & 31); }
  static uint32_t Index(uint32_t map, uint32_t bit) {
    return Popcount(map & (bit - 1));
  }
  static uint32_t Entries(const Node* n) {
    return n->collision ? n->datamap : Popcount(n->datamap);
  }
  static uint32_t Children(const Node* n) { return Popcount(n->nodemap); }

  // A node with room for `entries` entries and `children` children, the counts not yet set.
  static Node* Allocate(uint32_t entries, uint32_t children) {
    void* memory = ::operator new(sizeof(Node) + entries * sizeof(Entry) + children * sizeof(Node*));
    return new (memory) Node;
  }
  static Node* Ref(Node* n) {
    if (n != nullptr) n->refs.fetch_add(1, std::memory_order_relaxed);
    return n;
  }
  static void Unref(Node* n) {
    if (n == nullptr || n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    Node* const* children = n->children(Entries(n));
    for (uint32_t i = 0, count = Children(n); i < count; ++i) Unref(children[i]);
    n->~Node();
    ::operator delete(n);
  }

  // A copy of `n` (its children referenced again) whose entries and children are those of `n`
  // with entry slot `bit` added, replaced or removed and child slot `bit` likewise, as given:
  // `entry` (nullptr: none) for the entry slot and `child` (nullptr: none; taken over) for the
  // child slot. Neither slot may hold anything in the result but what is given.
  static Node* Rebuild(const Node* n, uint32_t bit, const Entry* entry, Node* child) {
    const uint32_t datamap = entry != nullptr ? n->datamap | bit : n->datamap & ~bit;
    const uint32_t nodemap = child != nullptr ? n->nodemap | bit : n->nodemap & ~bit;
    const auto entry_count = Popcount(datamap);
    const auto child_count = Popcount(nodemap);
    Node* out = Allocate(entry_count, child_count);
    out->datamap = datamap;
    out->nodemap = nodemap;
    const Entry* from_entries = n->entries();
    Node* const* from_children = n->children(Entries(n));
    Entry* to_entries = out->entries();
    Node** to_children = out->children(entry_count);
    for (uint32_t slot = 1; slot != 0; slot <<= 1) {
      if ((datamap & slot) != 0) {
        *to_entries++ =
            entry != nullptr && slot == bit ? *entry : from_entries[Index(n->datamap, slot)];
      }
      if ((nodemap & slot) != 0) {
        *to_children++ = slot == bit ? child : Ref(from_children[Index(n->nodemap, slot)]);
      }
    }
    return out;
  }

  // The subtree at `shift` holding exactly the two entries, whose hashes agree below `shift`.
  static Node* Pair(const Entry& a, const Entry& b, int shift) {
    if (shift >= 64) {
      Node* n = Allocate(2, 0);
      n->collision = true;
      n->datamap = 2;
      n->entries()[0] = a;
      n->entries()[1] = b;
      return n;
    }
    const uint32_t bit_a = Bit(a.hash, shift), bit_b = Bit(b.hash, shift);
    if (bit_a == bit_b) {
      Node* n = Allocate(0, 1);
      n->nodemap = bit_a;
      n->children(0)[0] = Pair(a, b, shift + kBits);
      return n;
    }
    Node* n = Allocate(2, 0);
    n->datamap = bit_a | bit_b;
    n->entries()[0] = bit_a < bit_b ? a : b;
    n->entries()[1] = bit_a < bit_b ? b : a;
    return n;
  }

  // True if no other trie can reach `n`: this trie holds it alone, and so every node above it.
  static bool Unique(const Node* n, bool path_unique) {
    // The last other holder released it with an acq_rel decrement: see its writes first.
    return path_unique && n->refs.load(std::memory_order_acquire) == 1;
  }

  // `n` with `entry` set, as a new reference. `path_unique`: this trie alone reaches the node
  // above; then a node it alone holds is changed in place wherever its size stays, so building a
  // trie of n keys (start-up) allocates one node per insertion rather than one per level.
  static Node* Insert(Node* n, const Entry& entry, int shift, bool path_unique, bool& added) {
    if (n == nullptr) {
      added = true;
      Node* leaf = Allocate(1, 0);
      leaf->datamap = Bit(entry.hash, shift);
      leaf->entries()[0] = entry;
      return leaf;
    }
    const auto key = KeyOf()(*entry.value);
    if (n->collision) {
      uint32_t same = n->datamap;
      for (uint32_t i = 0; i < n->datamap; ++i) {
        if (KeyOf()(*n->entries()[i].value) == key) same = i;
      }
      added = same == n->datamap;
      Node* out = Allocate(n->datamap + (added ? 1 : 0), 0);
      out->collision = true;
      out->datamap = n->datamap + (added ? 1 : 0);
      std::memcpy(static_cast<void*>(out->entries()), n->entries(), n->datamap * sizeof(Entry));
      out->entries()[same] = entry;
      return out;
    }
    const uint32_t bit = Bit(entry.hash, shift);
    if ((n->datamap & bit) != 0) {
      const Entry& there = n->entries()[Index(n->datamap, bit)];
      if (Matches(there, entry.hash, key)) {
        if (!Unique(n, path_unique)) return Rebuild(n, bit, &entry, nullptr);
        n->entries()[Index(n->datamap, bit)] = entry;
        return Ref(n);
      }
      added = true;
      return Rebuild(n, bit, nullptr, Pair(there, entry, shift + kBits));
    }
    if ((n->nodemap & bit) != 0) {
      const bool unique = Unique(n, path_unique);
      Node*& child = n->children(Entries(n))[Index(n->nodemap, bit)];
      Node* updated = Insert(child, entry, shift + kBits, unique, added);
      if (!unique) return Rebuild(n, bit, nullptr, updated);
      Unref(std::exchange(child, updated));  // the same node again if changed in place
      return Ref(n);
    }
    added = true;
    return Rebuild(n, bit, &entry, nullptr);
  }

  // A node of one entry and no child, which its parent takes in as an entry.
  static bool IsSingleEntry(const Node* n) { return n->nodemap == 0 && Entries(n) == 1; }

  // `n` without the entry of `key` (nullptr if nothing is left), or nullptr with `removed`
  // false if it holds no such entry.
  template <typename Q>
  static Node* Remove(const Node* n, uint64_t hash, const Q& key, int shift, bool& removed) {
    if (n == nullptr) return nullptr;
    if (n->collision) {
      for (uint32_t i = 0; i < n->datamap; ++i) {
        if (!Matches(n->entries()[i], hash, key)) continue;
        removed = true;
        Node* out = Allocate(n->datamap - 1, 0);
        out->collision = true;
        out->datamap = n->datamap - 1;
        for (uint32_t j = 0, k = 0; j < n->datamap; ++j) {
          if (j != i) out->entries()[k++] = n->entries()[j];
        }
        return out;
      }
      return nullptr;
    }
    const uint32_t bit = Bit(hash, shift);
    if ((n->datamap & bit) != 0) {
      if (!Matches(n->entries()[Index(n->datamap, bit)], hash, key)) return nullptr;
      removed = true;
      if (n->nodemap == 0 && Popcount(n->datamap) == 1) return nullptr;
      return Rebuild(n, bit, nullptr, nullptr);
    }
    if ((n->nodemap & bit) == 0) return nullptr;
    const Node* child = n->children(Entries(n))[Index(n->nodemap, bit)];
    Node* rest = Remove(child, hash, key, shift + kBits, removed);
    if (!removed) return nullptr;
    if (rest != nullptr && IsSingleEntry(rest)) {
      const Entry up = rest->entries()[0];
      Unref(rest);
      return Rebuild(n, bit, &up, nullptr);
    }
    if (rest == nullptr && n->nodemap == bit && n->datamap == 0) return nullptr;
    return Rebuild(n, bit, nullptr, rest);
  }

  template <typename Visit>
  static void Walk(const Node* n, Visit& visit) {
    if (n == nullptr) return;
    const uint32_t entries = Entries(n);
    for (uint32_t i = 0; i < entries; ++i) visit(*n->entries()[i].value);
    for (uint32_t i = 0, count = Children(n); i < count; ++i) Walk(n->children(entries)[i], visit);
  }

  static int Depth(const Node* n) {
    if (n == nullptr) return 0;
    int deepest = 0;
    for (uint32_t i = 0, count = Children(n); i < count; ++i) {
      deepest = std::max(deepest, Depth(n->children(Entries(n))[i]));
    }
    return 1 + deepest;
  }

  Node* root_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kura::core
