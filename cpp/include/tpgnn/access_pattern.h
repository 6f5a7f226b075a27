/*!
 * \file tpgnn/access_pattern.h
 * \brief Memory-access features of buffer loads and stores: their stride along the enclosing
 *  loops, how many of those loops touch new elements or reuse the same ones, and what that
 *  costs in bytes, cache lines and reuse distance.
 *
 * MetaSchedule's XGBModel describes every store by such facts (PerStoreFeature). In the graph
 * they are index arithmetic several edges away from the access, behind block-variable bindings,
 * which message passing recovers poorly; so the pass works them out once and writes them on
 * the access node (columns kAccessInnermostStride ... kAccessReuseDistanceIters). XGBoost leans
 * most on PerStoreFeature's bytes, cache lines and reuse distance (benchmarks/
 * bench_feature_sufficiency.py), which is why the pass also writes its own versions of those.
 *
 * Footprints count distinct elements: the product of the moving loops' extents, or the span of
 * the offsets they reach (1 + sum |stride| x (extent - 1)) when that is smaller, as for the
 * overlapping windows of a convolution; the span is used only when the offset is affine. Cache
 * lines are 64 bytes: along the innermost moving loop, the lines its span covers (each element
 * its own line when the stride is not known), times the other moving loops' extents, at most
 * one per element of the footprint. The reuse distance is measured inside the innermost loop
 * that leaves the access where it is: the footprint of the loops inside it (bytes) and their
 * iteration count; both 0 when no loop reuses the access. A loop whose extent is not constant
 * counts as extent 1.
 *
 * Indices are read as affine forms in the loop variables: block variables are replaced by the
 * values their SBlockRealize binds, buffers are flattened row-major (or by explicit constant
 * strides). What is not affine (a floordiv that does not divide, min, a loaded index...) still
 * counts as depending on its variables, with the access marked approximate.
 */
#ifndef TPGNN_ACCESS_PATTERN_H_
#define TPGNN_ACCESS_PATTERN_H_

#include <tvm/ffi/c_api.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace tpgnn {

/*! \brief A loop around an access, as the walk saw it. */
struct EnclosingLoop {
  const TVMFFIObject* var;  // For.loop_var
  float log_extent;         // the loop's loop_extent feature
  int64_t extent;           // its constant extent, 0 when not constant
  bool single_iteration;    // its extent is the constant 1: it moves nothing
};

/*!
 * \brief Works out the access columns of loads and stores; holds the block-variable bindings
 *  of the function being walked.
 *
 * Not thread-safe; the extractor owns one. On a TVM whose IR lacks one of the types it reads,
 * it stays disabled and the columns stay 0.
 */
class AccessAnalyzer {
 public:
  AccessAnalyzer();
  ~AccessAnalyzer();
  AccessAnalyzer(const AccessAnalyzer&) = delete;
  AccessAnalyzer& operator=(const AccessAnalyzer&) = delete;

  /*! \brief Forgets the bindings of the previous function. */
  void Reset();
  /*! \brief Whether objects of this type are buffer accesses (ir.TensorLoad, tirx.BufferStore). */
  bool IsAccess(int32_t type_index) const;
  /*! \brief Whether objects of this type bind block variables (s_tir.SBlockRealize). */
  bool IsBlockRealize(int32_t type_index) const;
  /*! \brief Records the affine forms that `realize` binds its block's variables to. */
  void BindBlockVars(const TVMFFIObject* realize);
  /*!
   * \brief Writes the access columns of `row` for the access `access`.
   * \param loops The enclosing loops, innermost first.
   */
  void WriteFeatures(const TVMFFIObject* access, const std::vector<EnclosingLoop>& loops,
                     float* row);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tpgnn

#endif  // TPGNN_ACCESS_PATTERN_H_
