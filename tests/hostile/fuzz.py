def fuzz_cases(seed, n): return []
