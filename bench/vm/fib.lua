local function fib(n) if n < 2 then return n else return fib(n - 1) + fib(n - 2) end end
local r = fib(30)
assert(r == 832040, "fib: wrong result")
print(r)
