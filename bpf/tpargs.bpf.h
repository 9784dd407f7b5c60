/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tracepoint arguments at positions the loader sets at load time, for the
 * tracer programs (tp_btf and raw_tp alike: both see the arguments as an
 * array of u64).  Included after vmlinux.h.
 */
#ifndef TAPESTRY_BPF_TPARGS_H
#define TAPESTRY_BPF_TPARGS_H

/* One load from ctx at a constant byte offset.  Spelled out in assembly:
 * given ctx[i] with i from a switch, clang would merge the arms into one
 * load from ctx plus a variable offset, which the verifier refuses for a
 * context pointer. */
#define TP_CTX_LOAD(ctx, off) ({					\
	__u64 __v;							\
	asm volatile("%0 = *(u64 *)(%1 + " #off ")"			\
		     : "=r"(__v) : "r"(ctx));				\
	__v;								\
})

/* ctx[i] for i in 0..TP_MAX_ARG.  i is meant to be a const volatile knob
 * (or a knob plus a constant): the verifier then knows it and checks only
 * the arm taken, and the others cost nothing.  An i past TP_MAX_ARG reads
 * argument TP_MAX_ARG; loaders refuse such positions before they load. */
#define TP_MAX_ARG 5

static __always_inline __u64 tp_arg(const __u64 *ctx, __u32 i)
{
	switch (i) {
	case 0: return TP_CTX_LOAD(ctx, 0);
	case 1: return TP_CTX_LOAD(ctx, 8);
	case 2: return TP_CTX_LOAD(ctx, 16);
	case 3: return TP_CTX_LOAD(ctx, 24);
	case 4: return TP_CTX_LOAD(ctx, 32);
	default: return TP_CTX_LOAD(ctx, 40);
	}
}

#endif /* TAPESTRY_BPF_TPARGS_H */
