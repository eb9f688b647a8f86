// Kernels of the sparse Krotov step on a CUDA device (see krotov_cuda.rs), compiled at run time
// by NVRTC. They mirror the CPU path of krotov.rs and plastic_runtime::learn::krotov, operation
// for operation and in the same order of summation, so that both paths converge alike:
//
//   currents I = V Wp^T                     (cuBLAS, between gather and rank)
//   g(mu)      = 1 for the winner, -delta for the k-th (ties: the lower index first)
//   ds_mu      = sum_b g_b(mu) v_b - (sum_b g_b(mu) I_b,mu) W_mu    (touched rows only)
//   W         += eps * ds / max(max |ds|, PREC);  Wp = sign(W)|W|^(p-1)  (touched rows only)
//
// Nothing here is read back by the host: the normaliser max |ds| lives in device memory.

#define THREADS 256
#define MAX_K 32
#define PREC 1e-30f

// V[b, :] = X[perm[offset + b], :] for the b-th sample of the minibatch.
extern "C" __global__ void krotov_gather(const float* x, const unsigned int* perm, int offset,
                                         int n, float* v) {
    const float* src = x + (unsigned long long)perm[offset + blockIdx.x] * n;
    float* dst = v + (unsigned long long)blockIdx.x * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}

// One block per sample: finds the winner and the k-th unit of its currents, writes the
// sample's row of g (zeros but for 1 at the winner and -delta at the k-th) and clears the
// normaliser for this step.
extern "C" __global__ void krotov_rank(const float* currents, int hidden, int k, float delta,
                                       float* g, unsigned int* max_bits) {
    __shared__ float best_val[THREADS];
    __shared__ int best_idx[THREADS];
    __shared__ int chosen[MAX_K];
    const int t = threadIdx.x;
    const float* row = currents + (unsigned long long)blockIdx.x * hidden;
    float* g_row = g + (unsigned long long)blockIdx.x * hidden;
    if (blockIdx.x == 0 && t == 0) *max_bits = 0u;
    for (int i = t; i < hidden; i += THREADS) g_row[i] = 0.0f;
    for (int r = 0; r < k; r++) {
        float best = __int_as_float(0xff800000);  // -infinity
        int bi = hidden;  // "none yet": loses every tie against a real index
        for (int i = t; i < hidden; i += THREADS) {
            bool taken = false;
            for (int j = 0; j < r; j++) taken |= (chosen[j] == i);
            const float value = row[i];
            if (!taken && (value > best || (value == best && i < bi))) {
                best = value;
                bi = i;
            }
        }
        best_val[t] = best;
        best_idx[t] = bi;
        __syncthreads();
        for (int half = THREADS / 2; half > 0; half >>= 1) {
            if (t < half) {
                const float ov = best_val[t + half];
                const int oi = best_idx[t + half];
                if (ov > best_val[t] || (ov == best_val[t] && oi < best_idx[t])) {
                    best_val[t] = ov;
                    best_idx[t] = oi;
                }
            }
            __syncthreads();
        }
        // A row of NaN ranks nothing: fall back to unit 0 (the epoch's check reports it).
        if (t == 0) chosen[r] = best_idx[0] < hidden ? best_idx[0] : 0;
        __syncthreads();
    }
    if (t == 0) {
        g_row[chosen[0]] = 1.0f;
        if (chosen[k - 1] != chosen[0]) g_row[chosen[k - 1]] = -delta;
    }
}

// One block per hidden unit mu: accumulates ds_mu over the minibatch in sample order (as the
// CPU's KrotovStep does), raises the normaliser to max |ds_mu|, and marks whether the row moved.
// Rows no sample chose leave at once.
extern "C" __global__ void krotov_rows(const float* g, const float* currents, const float* v,
                                       const float* w, int batch, int hidden, int n, float* ds,
                                       int* touched, unsigned int* max_bits) {
    __shared__ float g_chunk[THREADS];
    __shared__ float i_chunk[THREADS];
    __shared__ int any;
    __shared__ float block_max[THREADS];
    const int mu = blockIdx.x;
    const int t = threadIdx.x;
    if (t == 0) any = 0;
    __syncthreads();
    for (int b = t; b < batch; b += THREADS) {
        if (g[(unsigned long long)b * hidden + mu] != 0.0f) any = 1;
    }
    __syncthreads();
    if (!any) {
        if (t == 0) touched[mu] = 0;
        return;
    }
    float coef = 0.0f;
    float* ds_row = ds + (unsigned long long)mu * n;
    for (int start = 0; start < batch; start += THREADS) {
        const int count = batch - start < THREADS ? batch - start : THREADS;
        if (t < count) {
            g_chunk[t] = g[(unsigned long long)(start + t) * hidden + mu];
            i_chunk[t] = currents[(unsigned long long)(start + t) * hidden + mu];
        }
        __syncthreads();
        for (int i = t; i < n; i += THREADS) {
            float acc = start == 0 ? 0.0f : ds_row[i];
            for (int j = 0; j < count; j++) {
                const float gj = g_chunk[j];
                if (gj != 0.0f) acc += gj * v[(unsigned long long)(start + j) * n + i];
            }
            ds_row[i] = acc;
        }
        for (int j = 0; j < count; j++) {
            if (g_chunk[j] != 0.0f) coef += g_chunk[j] * i_chunk[j];
        }
        __syncthreads();
    }
    const float* w_row = w + (unsigned long long)mu * n;
    float local_max = 0.0f;
    for (int i = t; i < n; i += THREADS) {
        const float d = ds_row[i] - coef * w_row[i];
        ds_row[i] = d;
        local_max = fmaxf(local_max, fabsf(d));
    }
    block_max[t] = local_max;
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half >>= 1) {
        if (t < half) block_max[t] = fmaxf(block_max[t], block_max[t + half]);
        __syncthreads();
    }
    if (t == 0) {
        touched[mu] = 1;
        // Non-negative floats order as their bit patterns do.
        atomicMax(max_bits, __float_as_uint(block_max[0]));
    }
}

__device__ float lebesgue_weight(float x, float p) {
    if (p == 2.0f) return x;
    if (p == 3.0f) return x * fabsf(x);
    return copysignf(powf(fabsf(x), p - 1.0f), x);
}

// One block per hidden unit: W_mu += eps * ds_mu / max(max |ds|, PREC) and the row of
// Wp = sign(W)|W|^(p-1) refreshed, for the rows that moved.
extern "C" __global__ void krotov_apply(const float* ds, const int* touched,
                                        const unsigned int* max_bits, float eps, float p, int n,
                                        float* w, float* wp) {
    const int mu = blockIdx.x;
    if (!touched[mu]) return;
    const float scale = eps / fmaxf(__uint_as_float(*max_bits), PREC);
    const unsigned long long at = (unsigned long long)mu * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float updated = w[at + i] + scale * ds[at + i];
        w[at + i] = updated;
        wp[at + i] = lebesgue_weight(updated, p);
    }
}
