#!/usr/bin/env python3
"""Browser test of the web page served by `paradit serve`, in Debian's headless Chromium driven
by Selenium: type a prompt, click Generate, wait for the image in the gallery, check the
controls and the progress line, and save a screenshot.

  /usr/bin/python3 tests/browser/test_web_page.py build/paradit tests/fixtures/tiny-sd35 shot.png
"""
import socket
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    binary, model, screenshot = sys.argv[1:4]
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--model", model, "--no-t5", "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    driver = None
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.set_page_load_timeout(30)
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        # The model's size limit (512 for the tiny model) prunes the size choices.
        wait.until(lambda d: "512" in d.find_element(By.ID, "model").text)
        sizes = [o.get_attribute("value") for o in Select(driver.find_element(By.ID, "width")).options]
        assert sizes[-1] == "512", sizes
        Select(driver.find_element(By.ID, "width")).select_by_value("256")
        Select(driver.find_element(By.ID, "height")).select_by_value("256")
        driver.find_element(By.ID, "prompt").send_keys("a red fox in the snow, 35mm photo")
        driver.find_element(By.ID, "negative").send_keys("blurry")
        driver.find_element(By.ID, "steps").send_keys("12")
        driver.find_element(By.ID, "random").click()  # fixed seed
        seed = driver.find_element(By.ID, "seed")
        seed.clear()
        seed.send_keys("1234")
        driver.find_element(By.ID, "generate").click()
        # The image arrives in the gallery, fully decoded.
        img = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#gallery figure img")))
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 256)
        caption = driver.find_element(By.CSS_SELECTOR, "#gallery figcaption").text
        assert "a red fox in the snow" in caption and "seed 1234" in caption and "12 steps" in caption, caption
        status = driver.find_element(By.ID, "status").text
        assert status in ("done", "step 12 of 12"), status
        assert driver.find_element(By.CSS_SELECTOR, "#gallery figcaption a").get_attribute("download")
        # "Reuse settings" puts the parameters back into the form.
        driver.find_element(By.ID, "prompt").clear()
        driver.find_element(By.CSS_SELECTOR, "#gallery figcaption button").click()
        assert driver.find_element(By.ID, "prompt").get_attribute("value") == "a red fox in the snow, 35mm photo"
        driver.save_screenshot(screenshot)
        print(f"browser test passed: image in the gallery, caption {caption!r}, screenshot {screenshot}")
        print("1 passed, 0 failed")
        return 0
    except Exception as e:  # noqa: BLE001 - report anything as a failure with the server's output
        print(f"browser test FAILED: {e!r}")
        if driver:
            driver.save_screenshot(screenshot)
        server.terminate()
        print(server.communicate(timeout=10)[0].decode(errors="replace"))
        print("0 passed, 1 failed")
        return 1
    finally:
        if driver:
            driver.quit()
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
