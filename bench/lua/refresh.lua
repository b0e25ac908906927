-- Refresh arm: every request presents a different, never-used refresh token.
-- Arguments: token file, CSRF secret, CSRF cookie name, refresh cookie name.
-- Run with one wrk thread (-t1): each thread would read the same list.
local tokens = {}
local i = 0
local csrf, csrf_cookie, refresh_cookie

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  csrf, csrf_cookie, refresh_cookie = args[2], args[3], args[4]
end

function request()
  i = i + 1
  -- Past the end of the list the server answers 401, which wrk reports as a
  -- non-2xx response and run.py treats as a failed run.
  local token = tokens[i] or "exhausted"
  return wrk.format("POST", "/api/auth/refresh/", {
    ["Cookie"] = csrf_cookie .. "=" .. csrf .. "; " .. refresh_cookie .. "=" .. token,
    ["X-CSRFToken"] = csrf,
  })
end
