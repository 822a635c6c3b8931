"""Measures: life tables and Sullivan HLE, tidy results, the arm contrast, economics (QALYs,
discounting, costs) and equity (gaps, SII, EDE)."""
