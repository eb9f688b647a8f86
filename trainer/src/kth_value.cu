// The k-th smallest of n floats (0-based, in f32::total_cmp order), found on the device by a
// radix selection over 8-bit digits, most significant first: per digit, a histogram of the
// values that match the digits found so far, then one block picks the digit where the
// remaining rank falls. Nothing is read back by the host. See kth_value.rs.

// Maps a float to an unsigned key that orders as f32::total_cmp does.
__device__ unsigned int order_key(float x) {
    const unsigned int bits = __float_as_uint(x);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

__device__ float key_value(unsigned int key) {
    return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

// state: [0] the key's digits found so far, [1] the rank left within the values that match
// them. hist: 256 counts, zero on entry.
extern "C" __global__ void kth_init(unsigned int* state, unsigned int* hist, unsigned int k) {
    if (threadIdx.x == 0) {
        state[0] = 0u;
        state[1] = k;
    }
    hist[threadIdx.x] = 0u;
}

// Histogram of digit `shift` of the values whose higher digits equal state[0]'s.
extern "C" __global__ void kth_histogram(const float* x, unsigned int n, int shift,
                                         const unsigned int* state, unsigned int* hist) {
    __shared__ unsigned int local[256];
    local[threadIdx.x] = 0u;
    __syncthreads();
    const unsigned int prefix = state[0];
    // The digits above `shift` (none for the first digit: a shift by 32 is undefined).
    const unsigned int high = shift == 24 ? 0u : (0xffffffffu << (shift + 8));
    for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += gridDim.x * blockDim.x) {
        const unsigned int key = order_key(x[i]);
        if ((key & high) == (prefix & high)) atomicAdd(&local[(key >> shift) & 0xffu], 1u);
    }
    __syncthreads();
    if (local[threadIdx.x]) atomicAdd(&hist[threadIdx.x], local[threadIdx.x]);
}

// One block of 256 threads: the digit where the rank left falls joins the prefix, the rank
// drops by the counts below it, the histogram is cleared for the next digit; after the last
// digit, the value is written to out[0].
extern "C" __global__ void kth_pick(unsigned int* state, unsigned int* hist, int shift,
                                    float* out) {
    __shared__ unsigned int counts[256];
    counts[threadIdx.x] = hist[threadIdx.x];
    hist[threadIdx.x] = 0u;
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned int rank = state[1];
        unsigned int digit = 0;
        while (digit < 255u && rank >= counts[digit]) {
            rank -= counts[digit];
            digit++;
        }
        state[0] |= digit << shift;
        state[1] = rank;
        if (shift == 0) out[0] = key_value(state[0]);
    }
}
