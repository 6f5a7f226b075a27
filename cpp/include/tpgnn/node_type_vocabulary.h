/*!
 * \file tpgnn/node_type_vocabulary.h
 * \brief The committed vocabulary of IR type keys that node-type ids index into.
 *
 * The list lives in cpp/vocabulary/node_types.txt (sorted, one key a line) and is compiled
 * in, so ids never depend on the order in which a TVM build happens to register its types.
 * Id 0 is reserved for types outside the vocabulary.
 */
#ifndef TPGNN_NODE_TYPE_VOCABULARY_H_
#define TPGNN_NODE_TYPE_VOCABULARY_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace tpgnn {

/*! \brief Id given to every type key that is not in the vocabulary. */
inline constexpr int32_t kUnknownNodeType = 0;

/*! \brief Key reported for `kUnknownNodeType`. */
inline constexpr const char* kUnknownNodeTypeKey = "<unknown>";

/*! \brief The vocabulary: `<unknown>` followed by the committed sorted type keys. */
const std::vector<std::string_view>& NodeTypeKeys();

/*! \brief Id of a type key, or kUnknownNodeType. */
int32_t NodeTypeId(std::string_view type_key);

}  // namespace tpgnn

#endif  // TPGNN_NODE_TYPE_VOCABULARY_H_
