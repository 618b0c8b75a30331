"""Digital contingency plans (数字化预案): their elements, the protection-target layer, its import."""
