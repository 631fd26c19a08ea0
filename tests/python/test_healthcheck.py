from genonaut.healthcheck import main


def test_healthy_url_exits_0(comfyui_url):
    assert main([f"{comfyui_url}/health"]) == 0


def test_error_status_and_refused_connection_exit_1(comfyui_url, closed_port_url, capsys):
    assert main([f"{comfyui_url}/view?filename=missing.png"]) == 1
    assert "answered 404" in capsys.readouterr().err
    assert main([f"{closed_port_url}/health", "--timeout", "1"]) == 1
