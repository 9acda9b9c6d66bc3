local function tak(x, y, z)
  if y < x then return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y)) else return z end
end
local r = tak(24, 16, 8)
assert(r == 9, "tak: wrong result")
print(r)
