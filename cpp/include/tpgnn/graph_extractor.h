/*!
 * \file tpgnn/graph_extractor.h
 * \brief Walks a scheduled TensorIR function through tvm-ffi reflection and builds its graph.
 *
 * The walk is generic: it reads each object's type key and reflected fields, so IR node kinds
 * that TVM adds later still become nodes (with the UNKNOWN type id) instead of breaking it.
 * Only a few (type key, field name) pairs get special meaning: loop kinds and extents, binding
 * sites of variables, annotations and storage scopes.
 */
#ifndef TPGNN_GRAPH_EXTRACTOR_H_
#define TPGNN_GRAPH_EXTRACTOR_H_

#include <tvm/ffi/any.h>
#include <tvm/ffi/c_api.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace tpgnn {

/*! \brief A program graph in CSR form; every vector is handed out as a tensor without copy. */
struct ProgramGraph {
  std::vector<int32_t> node_type;    // [N], ids into NodeTypeKeys()
  std::vector<float> node_features;  // [N * kNumNodeFeatures], row-major
  std::vector<int64_t> row_ptr;      // [N + 1]
  std::vector<int64_t> col;          // [E], destination of each edge
  std::vector<int64_t> edge_type;    // [E], an EdgeType
  int64_t num_nodes() const { return static_cast<int64_t>(node_type.size()); }
};

/*!
 * \brief Extracts program graphs; holds per-type caches and scratch buffers between calls.
 *
 * Not thread-safe: use one instance per thread (the FFI entry point keeps a thread_local one).
 */
class GraphExtractor {
 public:
  GraphExtractor();
  ~GraphExtractor();
  GraphExtractor(const GraphExtractor&) = delete;
  GraphExtractor& operator=(const GraphExtractor&) = delete;

  /*!
   * \brief Builds the graph of the IR reachable from `root` (a tirx.PrimFunc in practice).
   * \param root A live object; the caller keeps it alive for the duration of the call.
   */
  ProgramGraph Extract(const TVMFFIObject* root);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/*!
 * \brief Resolves the user's input to the PrimFunc to walk.
 *
 * Accepts a tirx.PrimFunc, or an ir.IRModule holding exactly one function which is a PrimFunc.
 * \throws TypeError / ValueError (as tvm-ffi errors) describing what was wrong.
 */
const TVMFFIObject* ResolvePrimFunc(const tvm::ffi::AnyView& input);

}  // namespace tpgnn

#endif  // TPGNN_GRAPH_EXTRACTOR_H_
