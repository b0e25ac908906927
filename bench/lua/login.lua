-- Login arm: the same valid credentials on every request, with the CSRF
-- header and cookie. Arguments: username, password, CSRF secret, CSRF cookie name.
local req

function init(args)
  req = wrk.format("POST", "/api/auth/login/", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = args[4] .. "=" .. args[3],
    ["X-CSRFToken"] = args[3],
  }, '{"username": "' .. args[1] .. '", "password": "' .. args[2] .. '"}')
end

function request()
  return req
end
