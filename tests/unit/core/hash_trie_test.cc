#include "core/hash_trie.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace kura::core {
namespace {

// What the trie indexes in these tests. Items are never freed while a test runs, so every
// pointer a snapshot holds stays valid.
struct Item {
  std::string key;
  int value;
};
struct KeyOfItem {
  std::string_view operator()(const Item& item) const { return item.key; }
};

// The test hooks: hashes that collide in every bit, or agree in their low bits and differ in
// their last ones (so entries go down to the deepest level before they part).
struct OneHash {
  size_t operator()(std::string_view) const { return 42; }
};
struct HighBitsHash {
  size_t operator()(std::string_view key) const {
    return (std::hash<std::string_view>()(key) << 60) | 0x0123456789abcdeULL;
  }
};
struct FewHashes {
  size_t operator()(std::string_view key) const { return std::hash<std::string_view>()(key) % 7; }
};

using Model = std::map<std::string, int>;

template <typename Trie>
Model Contents(const Trie& trie) {
  Model out;
  trie.ForEach([&](const Item& item) {
    EXPECT_TRUE(out.emplace(item.key, item.value).second) << "key twice: " << item.key;
  });
  return out;
}

std::string Key(int i) {
  return "k" + std::to_string(i);
}

template <typename Trie>
class HashTrieTest : public ::testing::Test {
 protected:
  const Item* Make(std::string key, int value) {
    items_.push_back({std::move(key), value});
    return &items_.back();
  }
  std::deque<Item> items_;
};

using Tries = ::testing::Types<HashTrie<Item, KeyOfItem>, HashTrie<Item, KeyOfItem, OneHash>,
                               HashTrie<Item, KeyOfItem, HighBitsHash>,
                               HashTrie<Item, KeyOfItem, FewHashes>>;
TYPED_TEST_SUITE(HashTrieTest, Tries);

TYPED_TEST(HashTrieTest, EmptyTrieHasNothing) {
  TypeParam trie;
  EXPECT_EQ(trie.size(), 0u);
  EXPECT_TRUE(trie.empty());
  EXPECT_EQ(trie.Find(std::string_view("a")), nullptr);
  EXPECT_FALSE(trie.Erase(std::string_view("a")));
  EXPECT_TRUE(Contents(trie).empty());
}

TYPED_TEST(HashTrieTest, SetFindErase) {
  TypeParam trie;
  const Item* a = this->Make("a", 1);
  const Item* b = this->Make("b", 2);
  const Item* b2 = this->Make("b", 20);
  EXPECT_TRUE(trie.Set(a));
  EXPECT_TRUE(trie.Set(b));
  EXPECT_FALSE(trie.Set(b2));
  EXPECT_EQ(trie.size(), 2u);
  EXPECT_EQ(trie.Find(std::string_view("a")), a);
  EXPECT_EQ(trie.Find(std::string("b")), b2);
  EXPECT_EQ(trie.Find(std::string_view("c")), nullptr);
  EXPECT_TRUE(trie.Erase(std::string_view("a")));
  EXPECT_FALSE(trie.Erase(std::string_view("a")));
  EXPECT_EQ(trie.Find(std::string_view("a")), nullptr);
  EXPECT_EQ(Contents(trie), (Model{{"b", 20}}));
  EXPECT_TRUE(trie.Erase(std::string_view("b")));
  EXPECT_TRUE(trie.empty());
  EXPECT_EQ(trie.depth(), 0);
}

TYPED_TEST(HashTrieTest, ACopyDoesNotSeeChangesOfTheOriginal) {
  TypeParam trie;
  for (int i = 0; i < 1000; ++i) trie.Set(this->Make(Key(i), i));
  TypeParam copy = trie;
  trie.Set(this->Make(Key(10), -10));
  trie.Erase(Key(20));
  trie.Set(this->Make(Key(5000), 5000));
  EXPECT_EQ(copy.Find(Key(10))->value, 10);
  EXPECT_NE(copy.Find(Key(20)), nullptr);
  EXPECT_EQ(copy.Find(Key(5000)), nullptr);
  EXPECT_EQ(copy.size(), 1000u);
  EXPECT_EQ(trie.Find(Key(10))->value, -10);
  EXPECT_EQ(trie.Find(Key(20)), nullptr);
  EXPECT_EQ(trie.size(), 1000u);
  // And the other way round: the copy's changes leave the original alone.
  copy.Erase(Key(5));
  EXPECT_NE(trie.Find(Key(5)), nullptr);
}

// Random operations on a trie and on std::map side by side, with snapshots kept along the way:
// each snapshot must still hold what the model held when it was taken.
TYPED_TEST(HashTrieTest, MatchesStdMapUnderRandomOperations) {
  std::mt19937 rng(12345);
  TypeParam trie;
  Model model;
  std::vector<std::pair<TypeParam, Model>> snapshots;
  for (int step = 0; step < 20000; ++step) {
    const std::string key = Key(static_cast<int>(rng() % 2000));
    if (rng() % 3 != 0) {
      const int value = static_cast<int>(rng() % 100);
      EXPECT_EQ(trie.Set(this->Make(key, value)), !model.contains(key));
      model[key] = value;
    } else {
      EXPECT_EQ(trie.Erase(key), model.erase(key) == 1);
    }
    ASSERT_EQ(trie.size(), model.size());
    if (step % 1000 == 0) snapshots.emplace_back(trie, model);
  }
  EXPECT_EQ(Contents(trie), model);
  for (int i = 0; i < 2000; ++i) {
    const Item* found = trie.Find(Key(i));
    auto it = model.find(Key(i));
    ASSERT_EQ(found != nullptr, it != model.end()) << Key(i);
    if (found != nullptr) {
      EXPECT_EQ(found->value, it->second);
    }
  }
  for (auto& [snapshot, then] : snapshots) {
    EXPECT_EQ(snapshot.size(), then.size());
    EXPECT_EQ(Contents(snapshot), then);
    for (const auto& [k, v] : then) EXPECT_EQ(snapshot.Find(k)->value, v);
  }
  // Erasing everything leaves an empty trie, whatever shape the hashes gave it.
  for (int i = 0; i < 2000; ++i) trie.Erase(Key(i));
  EXPECT_TRUE(trie.empty());
  EXPECT_EQ(trie.depth(), 0);
}

// Removals pull entries back up: a trie that grew and shrank is as shallow as one built from its
// keys alone.
TEST(HashTrieShapeTest, StaysShallow) {
  std::deque<Item> items;
  HashTrie<Item, KeyOfItem> trie;
  for (int i = 0; i < 100000; ++i) {
    items.push_back({Key(i), i});
    trie.Set(&items.back());
  }
  // 32^3 < 100,000 keys < 32^4: most lookups end in the fourth level; of the 5 * 10^9 pairs of
  // keys a few share 30 bits of hash and part only in the seventh.
  EXPECT_LE(trie.depth(), 8);
  for (int i = 10; i < 100000; ++i) trie.Erase(Key(i));
  HashTrie<Item, KeyOfItem> fresh;
  for (int i = 0; i < 10; ++i) fresh.Set(&items[static_cast<size_t>(i)]);
  EXPECT_EQ(trie.depth(), fresh.depth());
  EXPECT_EQ(Contents(trie), Contents(fresh));
}

}  // namespace
}  // namespace kura::core
